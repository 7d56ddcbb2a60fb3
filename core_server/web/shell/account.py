"""My account (``/account``): every signed-in person changes their password, sees and ends
their sessions, and switches the TOTP second factor on or off. The page is one template and
a script over the JSON API (``/api/auth/password``, ``/api/auth/sessions``,
``/api/auth/totp``); directory users see that the directory keeps their credentials."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Request
from fastapi.responses import Response

from core_server import auth
from core_server.web.routes_auth import password_policy
from core_server.web.security import require_page
from core_server.web.templating import render

router = APIRouter(include_in_schema=False)

# Everyone who signs in at a browser (devices use their keys).
PEOPLE = tuple(role for role in auth.ROLES if role != "device")
Person = Annotated[auth.User, Depends(require_page(*PEOPLE))]


@router.get("/account")
def account_page(request: Request, user: Person) -> Response:
    settings = request.app.state.ctx.settings
    policy = password_policy(request)
    required = user.role == "admin" and settings.totp_required_for_admins
    page_data = {
        "username": user.username,
        "directory": user.source != "local",
        "totp_enabled": user.totp_enabled,
        "totp_required": required,
    }
    return render(
        request,
        "shell/account.html",
        {
            "policy": {"min_length": policy.min_length, "min_classes": policy.min_classes},
            "page_data": page_data,
            "directory": page_data["directory"],
        },
        i18n_prefixes=("web.account.", "web.users.", "web.password.", "web.login."),
    )
