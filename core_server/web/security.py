"""Bearer-token authentication and role checks for every route."""

from __future__ import annotations

from collections.abc import Callable
from typing import Annotated

from fastapi import Depends, HTTPException, Request, status
from fastapi.security import OAuth2PasswordBearer

from core_server.auth import User, user_for_token

bearer = OAuth2PasswordBearer(tokenUrl="/api/auth/token", auto_error=False)


def current_user(request: Request, token: Annotated[str | None, Depends(bearer)]) -> User:
    user = user_for_token(request.app.state.ctx.engine, token) if token else None
    if user is None:
        raise HTTPException(
            status.HTTP_401_UNAUTHORIZED,
            "not signed in / 未登录",
            headers={"WWW-Authenticate": "Bearer"},
        )
    return user


def require(*roles: str) -> Callable[..., User]:
    """A dependency that admits a signed-in user holding one of ``roles``."""

    def check(user: Annotated[User, Depends(current_user)]) -> User:
        if user.role not in roles:
            raise HTTPException(status.HTTP_403_FORBIDDEN, "not permitted / 无权限")
        return user

    return check
