"""Users, roles, bearer tokens and the audit trail."""

from core_server.auth.audit import (
    AuditAction,
    AuditEvent,
    audit_actions,
    audit_after,
    query_audit,
    record_audit,
)
from core_server.auth.coalescing import Coalescer
from core_server.auth.errors import AuthError, PasswordRejected, UnknownUser, WrongPassword
from core_server.auth.ldap import DirectoryDown
from core_server.auth.passwords import PasswordPolicy
from core_server.auth.signin import (
    SecondFactorRequired,
    SignInOptions,
    SignInThrottled,
    complete_sign_in,
    sign_in,
    sign_out,
    unlock,
)
from core_server.auth.users import (
    ROLES,
    STAFF_ROLES,
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
    "STAFF_ROLES",
    "AuditAction",
    "AuditEvent",
    "AuthError",
    "Coalescer",
    "DirectoryDown",
    "PasswordPolicy",
    "PasswordRejected",
    "SecondFactorRequired",
    "SignInOptions",
    "SignInThrottled",
    "UnknownUser",
    "User",
    "WrongPassword",
    "audit_actions",
    "audit_after",
    "authenticate",
    "complete_sign_in",
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
    "unlock",
    "update_user",
    "user_for_token",
]
