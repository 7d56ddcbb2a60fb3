"""Users, roles, bearer tokens and the audit trail."""

from core_server.auth.audit import (
    AuditAction,
    AuditEvent,
    audit_actions,
    query_audit,
    record_audit,
)
from core_server.auth.signin import AccountLocked, sign_in, sign_out
from core_server.auth.users import (
    ROLES,
    AuthError,
    User,
    authenticate,
    create_user,
    ensure_initial_admin,
    get_user,
    issue_token,
    list_users,
    reset_password,
    revoke_token,
    set_password,
    update_user,
    user_for_token,
)

__all__ = [
    "ROLES",
    "AccountLocked",
    "AuditAction",
    "AuditEvent",
    "AuthError",
    "User",
    "audit_actions",
    "authenticate",
    "create_user",
    "ensure_initial_admin",
    "get_user",
    "issue_token",
    "list_users",
    "query_audit",
    "record_audit",
    "reset_password",
    "revoke_token",
    "set_password",
    "sign_in",
    "sign_out",
    "update_user",
    "user_for_token",
]
