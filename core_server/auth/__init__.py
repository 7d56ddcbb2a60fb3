"""Users, roles, bearer tokens and the audit trail."""

from core_server.auth.audit import AuditEvent, query_audit, record_audit
from core_server.auth.users import (
    ROLES,
    AuthError,
    User,
    authenticate,
    create_user,
    ensure_initial_admin,
    issue_token,
    list_users,
    revoke_token,
    set_password,
    user_for_token,
)

__all__ = [
    "ROLES",
    "AuditEvent",
    "AuthError",
    "User",
    "authenticate",
    "create_user",
    "ensure_initial_admin",
    "issue_token",
    "list_users",
    "query_audit",
    "record_audit",
    "revoke_token",
    "set_password",
    "user_for_token",
]
