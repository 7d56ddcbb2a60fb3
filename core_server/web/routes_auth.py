"""Sign in (OAuth2 password form -> bearer token), sign out, who am I, change password.

Browsers sign in through the login page (``pages.py``), which sets the session cookie; these
routes accept either credential. Every attempt, sign-out and password change is audited.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, HTTPException, Request, Response, status
from fastapi.security import OAuth2PasswordRequestForm
from pydantic import BaseModel

from core_server import auth
from core_server.web.security import (
    bearer,
    clear_session_cookie,
    current_user,
    presented_token,
    session_token,
)

router = APIRouter(prefix="/api/auth", tags=["auth"])


def client_address(request: Request) -> str:
    return request.client.host if request.client else ""


@router.post("/token")
def token(request: Request, form: Annotated[OAuth2PasswordRequestForm, Depends()]) -> Any:
    ctx = request.app.state.ctx
    hours = ctx.settings.token_hours
    try:
        user, issued = auth.sign_in(
            ctx.engine,
            form.username,
            form.password,
            hours,
            address=client_address(request),
            via="token-api",
        )
    except auth.AccountLocked as exc:
        raise HTTPException(
            status.HTTP_401_UNAUTHORIZED,
            f"{exc} / 登录失败次数过多，账户已暂时锁定",
            headers={"WWW-Authenticate": "Bearer"},
        ) from None
    except auth.AuthError:
        raise HTTPException(
            status.HTTP_401_UNAUTHORIZED,
            "wrong username or password / 用户名或密码错误",
            headers={"WWW-Authenticate": "Bearer"},
        ) from None
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
    try:
        change_own_password(request, user, body.current_password, body.new_password)
    except auth.AuthError as exc:
        raise HTTPException(status.HTTP_400_BAD_REQUEST, str(exc)) from None


def change_own_password(request: Request, user: auth.User, current: str, new: str) -> None:
    """Shared by this route and the password page; raises ``AuthError`` for the user."""
    engine = request.app.state.ctx.engine
    try:
        auth.authenticate(engine, user.username, current)
    except auth.AuthError:
        raise auth.AuthError("the current password is wrong") from None
    if new == current:
        raise auth.AuthError("the new password must differ from the current one")
    auth.set_password(engine, user.username, new, keep_token=presented_token(request) or "")
    auth.record_audit(
        engine,
        username=user.username,
        action=auth.AuditAction.PASSWORD_CHANGE,
        target=f"user:{user.username}",
        address=client_address(request),
    )
