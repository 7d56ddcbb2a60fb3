"""Sign in (OAuth2 password form -> bearer token), sign out, who am I, change password."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, HTTPException, Request, status
from fastapi.security import OAuth2PasswordRequestForm
from pydantic import BaseModel

from core_server import auth
from core_server.web.security import bearer, current_user

router = APIRouter(prefix="/api/auth", tags=["auth"])


@router.post("/token")
def token(request: Request, form: Annotated[OAuth2PasswordRequestForm, Depends()]) -> Any:
    ctx = request.app.state.ctx
    try:
        user = auth.authenticate(ctx.engine, form.username, form.password)
    except auth.AuthError:
        raise HTTPException(
            status.HTTP_401_UNAUTHORIZED,
            "wrong username or password / 用户名或密码错误",
            headers={"WWW-Authenticate": "Bearer"},
        ) from None
    hours = ctx.settings.token_hours
    return {
        "access_token": auth.issue_token(ctx.engine, user, hours),
        "token_type": "bearer",
        "expires_in": int(hours * 3600),
        "must_change_password": user.must_change_password,
    }


@router.post("/logout", status_code=204)
def logout(
    request: Request,
    _user: Annotated[auth.User, Depends(current_user)],
    raw: Annotated[str | None, Depends(bearer)],
) -> None:
    if raw:
        auth.revoke_token(request.app.state.ctx.engine, raw)


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
    engine = request.app.state.ctx.engine
    try:
        auth.authenticate(engine, user.username, body.current_password)
        auth.set_password(engine, user.username, body.new_password)
    except auth.AuthError as exc:
        raise HTTPException(status.HTTP_400_BAD_REQUEST, str(exc)) from None
