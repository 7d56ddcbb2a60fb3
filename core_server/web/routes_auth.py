"""Sign in (OAuth2 password form -> bearer token), sign out, who am I, change password.

Browsers sign in through the login page (``shell/pages.py``), which sets the session cookie;
these routes accept either credential. Every attempt, sign-out and password change is
audited. Refusals are the auth domain's (``auth.*`` codes): 401 for a wrong name or password,
429 with ``Retry-After`` while sign-in is slowed (``core_server/auth/signin.py``), 400 for a
password the policy refuses.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Request, Response
from fastapi.security import OAuth2PasswordRequestForm
from pydantic import BaseModel

from core_server import auth
from core_server.web.security import (
    bearer,
    clear_session_cookie,
    client_address,
    current_user,
    presented_token,
    session_token,
)

router = APIRouter(prefix="/api/auth", tags=["auth"])

__all__ = ["change_own_password", "client_address", "password_policy", "router"]


def password_policy(request: Request) -> auth.PasswordPolicy:
    """The site's password policy (settings ``password_*``)."""
    return auth.PasswordPolicy.from_settings(request.app.state.ctx.settings)


@router.post("/token")
def token(request: Request, form: Annotated[OAuth2PasswordRequestForm, Depends()]) -> Any:
    ctx = request.app.state.ctx
    hours = ctx.settings.token_hours
    user, issued = auth.sign_in(
        ctx.engine,
        form.username,
        form.password,
        hours,
        address=client_address(request),
        via="token-api",
    )
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
    )
    auth.record_audit(
        engine,
        username=user.username,
        action=auth.AuditAction.PASSWORD_CHANGE,
        target=f"user:{user.username}",
        address=client_address(request),
    )
