"""Sign in (OAuth2 password form -> bearer token), sign out, who am I, change password.

Browsers sign in through the login page (``shell/pages.py``), which sets the session cookie;
these routes accept either credential. Every attempt, sign-out and password change is
audited. Refusals are the auth domain's (``auth.*`` codes): 401 for a wrong name or password,
429 with ``Retry-After`` while sign-in is slowed (``core_server/auth/signin.py``), 400 for a
password the policy refuses.

Sessions (``docs/signin.md``): a user lists and ends their own (``/api/auth/sessions``), an
administrator anyone's (``/api/auth/users/{username}/sessions``); a TOTP second factor is
enrolled at ``/api/auth/totp`` and reset by an administrator.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Form, Request, Response
from pydantic import BaseModel

from core_server import auth
from core_server.auth import sessions, signin, totp
from core_server.web.security import (
    audit,
    bearer,
    clear_session_cookie,
    client_address,
    current_user,
    presented_token,
    require,
    session_token,
)

router = APIRouter(prefix="/api/auth", tags=["auth"])

__all__ = [
    "change_own_password",
    "client_address",
    "password_policy",
    "router",
    "signin_options",
    "user_agent",
]

Admin = Annotated[auth.User, Depends(require("admin"))]
Me = Annotated[auth.User, Depends(current_user)]


def password_policy(request: Request) -> auth.PasswordPolicy:
    """The site's password policy (settings ``password_*``)."""
    return auth.PasswordPolicy.from_settings(request.app.state.ctx.settings)


def signin_options(request: Request) -> auth.SignInOptions:
    """Lockout, TOTP, password age and the directory, as the settings say."""
    return auth.SignInOptions.from_settings(request.app.state.ctx.settings)


def user_agent(request: Request) -> str:
    return request.headers.get("user-agent", "")[:255]


@router.post("/token")
def token(
    request: Request,
    username: Annotated[str, Form()],
    password: Annotated[str, Form()],
    totp_code: Annotated[str, Form(alias="totp")] = "",
) -> Any:
    """OAuth2's password grant; a user with the second factor also sends ``totp``."""
    ctx = request.app.state.ctx
    hours = ctx.settings.token_hours
    try:
        user, issued = auth.sign_in(
            ctx.engine,
            username,
            password,
            hours,
            address=client_address(request),
            via="token-api",
            options=signin_options(request),
            user_agent=user_agent(request),
            code=totp_code,
        )
    except auth.SecondFactorRequired as exc:
        auth.revoke_token(ctx.engine, exc.pending)  # programs send the code with the password
        raise auth.AuthError(exc.key, 401) from None
    return {
        "access_token": issued,
        "token_type": "bearer",
        "expires_in": int(hours * 3600),
        "must_change_password": user.must_change_password,
    }


@router.post("/logout", status_code=204)
def logout(
    request: Request,
    response: Response,
    user: Annotated[auth.User, Depends(current_user)],
    raw: Annotated[str | None, Depends(bearer)],
) -> None:
    presented, from_cookie = session_token(request, raw)
    if presented:
        auth.sign_out(
            request.app.state.ctx.engine, user, presented, address=client_address(request)
        )
    if from_cookie:
        clear_session_cookie(response, request)


@router.get("/me")
def me(user: Annotated[auth.User, Depends(current_user)]) -> Any:
    return user


class PasswordChange(BaseModel):
    current_password: str
    new_password: str


@router.post("/password", status_code=204)
def change_password(
    request: Request,
    body: PasswordChange,
    user: Annotated[auth.User, Depends(current_user)],
) -> None:
    change_own_password(request, user, body.current_password, body.new_password)


def change_own_password(request: Request, user: auth.User, current: str, new: str) -> None:
    """Shared by this route and the password page; raises ``AuthError`` for the user."""
    engine = request.app.state.ctx.engine
    if user.source != "local":
        raise auth.AuthError("auth.ldap.directory_user", username=user.username)
    try:
        auth.authenticate(engine, user.username, current)
    except auth.AuthError:
        raise auth.AuthError("auth.password.wrong_current") from None
    if new == current:
        raise auth.AuthError("auth.password.same")
    auth.set_password(
        engine,
        user.username,
        new,
        keep_token=presented_token(request) or "",
        policy=password_policy(request),
        history=request.app.state.ctx.settings.password_history,
    )
    auth.record_audit(
        engine,
        username=user.username,
        action=auth.AuditAction.PASSWORD_CHANGE,
        target=f"user:{user.username}",
        address=client_address(request),
    )


def _sessions(request: Request, username: str) -> list[dict[str, Any]]:
    presented = presented_token(request)
    current = sessions.session_id(presented) if presented else ""
    engine = request.app.state.ctx.engine
    return [s.as_dict(current) for s in sessions.list_sessions(engine, username)]


@router.get("/sessions")
def my_sessions(request: Request, user: Me) -> Any:
    """The caller's own sessions (``current`` marks the one asking)."""
    return _sessions(request, user.username)


@router.delete("/sessions/{sid}", status_code=204)
def end_my_session(request: Request, sid: str, user: Me) -> None:
    sessions.revoke_session(request.app.state.ctx.engine, user.username, sid)
    audit(request, user, "session.revoke", f"user:{user.username}", {"session": sid})


@router.post("/sessions/revoke-all", status_code=204)
def sign_out_everywhere(request: Request, response: Response, user: Me) -> None:
    """Every session of the caller ends, this one too."""
    ended = sessions.revoke_all(request.app.state.ctx.engine, user.username)
    audit(request, user, "session.revoke_all", f"user:{user.username}", {"ended": ended})
    clear_session_cookie(response, request)


@router.post("/sessions/revoke-others", status_code=204)
def sign_out_elsewhere(request: Request, user: Me) -> None:
    """Every session of the caller ends but the one asking (the account page's button)."""
    keep = presented_token(request) or ""
    ended = sessions.revoke_all(request.app.state.ctx.engine, user.username, keep_token=keep)
    detail = {"ended": ended, "kept_current": bool(keep)}
    audit(request, user, "session.revoke_all", f"user:{user.username}", detail)


@router.get("/locks")
def current_locks(request: Request, admin: Admin) -> Any:
    """The (account, address) pairs locked now, newest first (the users page)."""
    engine = request.app.state.ctx.engine
    return [lock.as_dict() for lock in signin.current_locks(engine, signin_options(request))]


@router.get("/users/{username}/sessions")
def user_sessions(request: Request, username: str, admin: Admin) -> Any:
    return _sessions(request, username)


@router.delete("/users/{username}/sessions/{sid}", status_code=204)
def end_user_session(request: Request, username: str, sid: str, admin: Admin) -> None:
    sessions.revoke_session(request.app.state.ctx.engine, username, sid)
    audit(request, admin, "session.revoke", f"user:{username}", {"session": sid})


@router.delete("/users/{username}/sessions", status_code=204)
def end_user_sessions(request: Request, username: str, admin: Admin) -> None:
    ended = sessions.revoke_all(request.app.state.ctx.engine, username)
    audit(request, admin, "session.revoke_all", f"user:{username}", {"ended": ended})


@router.delete("/users/{username}/totp", status_code=204)
def reset_user_totp(request: Request, username: str, admin: Admin) -> None:
    """For a user who lost the phone and the recovery codes: the factor off, sessions end."""
    totp.disable(request.app.state.ctx.engine, username)
    audit(request, admin, "totp.reset", f"user:{username}", {})


class PasswordProof(BaseModel):
    password: str


class Code(BaseModel):
    code: str


class TotpOff(BaseModel):
    password: str
    code: str  # a current code or a recovery code: the phone (or its paper) is at hand


def _prove(request: Request, user: auth.User, password: str) -> None:
    try:
        auth.authenticate(request.app.state.ctx.engine, user.username, password)
    except auth.AuthError:
        raise auth.AuthError("auth.password.wrong_current") from None


@contextmanager
def _signed_in_code() -> Iterator[None]:
    """A wrong code from a signed-in user is a 400 to correct, not the 401 that tells a page
    its session is over (the pages' ``api()`` goes to the login page on a 401)."""
    try:
        yield
    except totp.WrongCode:
        raise auth.AuthError("auth.totp.wrong") from None


@router.post("/totp")
def begin_totp(request: Request, body: PasswordProof, user: Me) -> Any:
    """Start enrolling (the password again, as for a password change): the otpauth URI, its
    QR code as SVG and the secret to type in."""
    if user.source != "local":
        raise auth.AuthError("auth.ldap.directory_user", username=user.username)
    _prove(request, user, body.password)
    ctx = request.app.state.ctx
    uri = totp.begin(ctx.engine, user.username, ctx.settings.totp_issuer)
    return {"uri": uri, "secret": totp.secret_of(uri), "qr_svg": totp.qr_svg(uri)}


@router.post("/totp/confirm")
def confirm_totp(request: Request, body: Code, user: Me) -> Any:
    """The first code from the app switches the factor on: the recovery codes, shown once."""
    with _signed_in_code():
        codes = totp.confirm(request.app.state.ctx.engine, user.username, body.code)
    audit(request, user, "totp.enable", f"user:{user.username}", {})
    return {"recovery_codes": codes}


@router.post("/totp/disable", status_code=204)
def disable_totp(request: Request, body: TotpOff, user: Me) -> None:
    """The user switches the factor off with the password and a code, unless the site
    requires it for the role (then only an administrator's reset, and enrolment again at the
    next sign-in). The user's sessions end, this one too (``totp.disable``)."""
    engine = request.app.state.ctx.engine
    if user.role == "admin" and request.app.state.ctx.settings.totp_required_for_admins:
        raise auth.AuthError("auth.totp.required_by_site", 409)
    _prove(request, user, body.password)
    with _signed_in_code():
        totp.verify(engine, user.username, body.code)
    totp.disable(engine, user.username)
    audit(request, user, "totp.disable", f"user:{user.username}", {})


@router.post("/users/{username}/unlock", status_code=204)
def unlock_user(request: Request, username: str, admin: Admin) -> None:
    """Lift the account's locks and backoff now (as the console's ``users unlock``)."""
    if auth.get_user(request.app.state.ctx.engine, username) is None:
        raise auth.UnknownUser(username)
    auth.unlock(
        request.app.state.ctx.engine, username, by=admin.username, address=client_address(request)
    )
