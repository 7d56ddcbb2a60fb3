"""Users, roles and bearer tokens."""

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
    "AuthError",
    "User",
    "authenticate",
    "create_user",
    "ensure_initial_admin",
    "issue_token",
    "list_users",
    "revoke_token",
    "set_password",
    "user_for_token",
]
