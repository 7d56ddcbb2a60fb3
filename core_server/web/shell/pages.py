"""The web shell's pages: sign in and out, password change, home, study list, administration.

Forms post back to the same path and answer with a redirect (303) on success, so a reload
never repeats a sign-in. The pages fetch their data from the JSON API (``/api/studies``,
``/api/users``, ``/api/modalities``, ``/api/audit``) with the session cookie.
"""

from __future__ import annotations

from typing import Annotated
from urllib.parse import quote

from fastapi import APIRouter, Depends, FastAPI, Form, Request
from fastapi.responses import RedirectResponse, Response

from core_server import auth, i18n
from core_server.auth import totp
from core_server.auth.users import pending_user
from core_server.web import routes_audit, routes_studies
from core_server.web.routes_auth import (
    change_own_password,
    password_policy,
    signin_options,
    user_agent,
)
from core_server.web.security import (
    LoginRequired,
    bearer,
    clear_session_cookie,
    client_address,
    require_page,
    same_origin,
    session_token,
    set_session_cookie,
)
from core_server.web.shell import account
from core_server.web.templating import (
    PageLink,
    add_page_link,
    landing_page,
    mount_static,
    page_links,
    render,
)

# Who works with images: everyone but the device programs.
STAFF = tuple(role for role in auth.ROLES if role != "device")

router = APIRouter(include_in_schema=False)


def safe_next(target: str | None, default: str = "/") -> str:
    """Only a path on this site (no scheme, no host, no ``//`` or ``/\\`` tricks)."""
    if not target or not target.startswith("/") or target.startswith(("//", "/\\")):
        return default
    if any(ch in target for ch in "\r\n\t"):
        return default
    return target


def _redirect(location: str) -> RedirectResponse:
    return RedirectResponse(location, status_code=303)


def _lang(request: Request) -> str:
    return i18n.language(request.cookies, request.headers.get("accept-language", ""))


def _text(request: Request, key: str, **values: object) -> str:
    return i18n.translate(_lang(request), key, **values)


def _login_form(request: Request, status: int = 200, /, **values: object) -> Response:
    """The sign-in page at one of its steps: password, code, enrolment, recovery codes."""
    context: dict[str, object] = {
        "next": "/",
        "username": "",
        "error": "",
        "notice": "",
        "step": "password",
        "pending": "",
        "qr_svg": "",
        "secret": "",
        "recovery": [],
    }
    context.update(values)
    return render(request, "shell/login.html", context, user=None, status_code=status)


@router.get("/login")
def login_page(request: Request, next: str = "/") -> Response:
    return _login_form(request, next=safe_next(next))


@router.post("/login")
def login(
    request: Request,
    username: Annotated[str, Form()],
    password: Annotated[str, Form()],
    next: Annotated[str, Form()] = "/",
) -> Response:
    target = safe_next(next)
    # A form another site posts would sign the browser into someone else's account.
    if request.headers.get("origin") and not same_origin(request):
        return render(
            request,
            "web/error.html",
            {"title": _text(request, "web.error.forbidden_title"), "message": ""},
            user=None,
            status_code=403,
        )
    ctx = request.app.state.ctx
    try:
        user, token = auth.sign_in(
            ctx.engine,
            username.strip(),
            password,
            ctx.settings.token_hours,
            address=client_address(request),
            via="password-form",
            idle_minutes=ctx.settings.session_idle_minutes,
            options=signin_options(request),
            user_agent=user_agent(request),
        )
    except auth.SecondFactorRequired as exc:
        return _code_step(request, exc, target)
    except auth.AuthError as exc:
        # A wrong password reads as the page's own sentence; a slowed sign-in says how long.
        wrong = isinstance(exc, auth.WrongPassword)
        error = _text(request, "web.login.failed") if wrong else exc.text(_lang(request))
        response = _login_form(request, exc.status, next=target, username=username, error=error)
        if "retry_after" in exc.values:
            response.headers["Retry-After"] = str(exc.values["retry_after"])
        return response
    return _signed_in(request, user, token, target)


def _signed_in(request: Request, user: auth.User, token: str, target: str) -> Response:
    if user.must_change_password:
        target = f"/password?next={quote(target, safe='')}"
    response = _redirect(target)
    set_session_cookie(response, request, token, request.app.state.ctx.settings.token_hours)
    return response


def _code_step(request: Request, exc: auth.SecondFactorRequired, target: str) -> Response:
    """After the right password: ask for the code, or (enrolment the site requires) show the
    QR code of a new secret first."""
    values: dict[str, object] = {"next": target, "pending": exc.pending, "step": "code"}
    if exc.enrol:
        ctx = request.app.state.ctx
        user = pending_user(ctx.engine, exc.pending)
        assert user is not None
        uri = totp.begin(ctx.engine, user.username, ctx.settings.totp_issuer)
        values.update(step="enrol", qr_svg=totp.qr_svg(uri), secret=totp.secret_of(uri))
    return _login_form(request, notice=exc.text(_lang(request)), **values)


@router.post("/login/code")
def login_code(
    request: Request,
    pending: Annotated[str, Form()],
    code: Annotated[str, Form()],
    next: Annotated[str, Form()] = "/",
) -> Response:
    target = safe_next(next)
    if request.headers.get("origin") and not same_origin(request):
        return _login_form(request, 403, next=target)
    ctx = request.app.state.ctx
    try:
        user, token, recovery = auth.complete_sign_in(
            ctx.engine,
            pending,
            code,
            ctx.settings.token_hours,
            address=client_address(request),
            via="password-form",
            idle_minutes=ctx.settings.session_idle_minutes,
            options=signin_options(request),
            user_agent=user_agent(request),
        )
    except auth.AuthError as exc:
        again = pending_user(ctx.engine, pending) is not None
        values: dict[str, object] = {"next": target, "error": exc.text(_lang(request))}
        if again and exc.status != 429:  # the same page asks again: not an error page
            values.update(pending=pending, step="code")
            return _login_form(request, **values)
        return _login_form(request, exc.status, **values)
    if not recovery:
        return _signed_in(request, user, token, target)
    response = _login_form(request, next=target, step="recovery", recovery=recovery)
    set_session_cookie(response, request, token, ctx.settings.token_hours)
    return response


@router.post("/logout")
def logout(
    request: Request,
    user: Annotated[auth.User, Depends(require_page(*auth.ROLES, password_change=True))],
    token: Annotated[str | None, Depends(bearer)],
) -> Response:
    presented, _from_cookie = session_token(request, token)
    if presented:
        auth.sign_out(
            request.app.state.ctx.engine, user, presented, address=client_address(request)
        )
    response = _redirect("/login")
    clear_session_cookie(response, request)
    return response


PasswordUser = Annotated[auth.User, Depends(require_page(*auth.ROLES, password_change=True))]


def _policy(request: Request) -> dict[str, int]:
    """What the password hints and fields say: the site's policy."""
    policy = password_policy(request)
    return {"min_length": policy.min_length, "min_classes": policy.min_classes}


@router.get("/password")
def password_page(request: Request, user: PasswordUser, next: str = "/") -> Response:
    context = {"next": safe_next(next), "error": "", "done": False, "policy": _policy(request)}
    return render(request, "shell/password.html", context)


@router.post("/password")
def password(
    request: Request,
    user: PasswordUser,
    current_password: Annotated[str, Form()],
    new_password: Annotated[str, Form()],
    confirm_password: Annotated[str, Form()],
    next: Annotated[str, Form()] = "/",
) -> Response:
    target = safe_next(next)
    error = ""
    if new_password != confirm_password:
        error = _text(request, "web.password.mismatch")
    else:
        try:
            change_own_password(request, user, current_password, new_password)
        except auth.AuthError as exc:
            error = exc.text(_lang(request))
    if error:
        return render(
            request,
            "shell/password.html",
            {"next": target, "error": error, "done": False, "policy": _policy(request)},
            status_code=400,
        )
    return _redirect(target)


@router.get("/")
def home(request: Request, user: Annotated[auth.User, Depends(require_page(*STAFF))]) -> Response:
    """The user's work page: the one a feature declared for the role (``PageLink.landing``:
    登记 for registrars, 报告工作台 for doctors...), else the first the role may open."""
    return _redirect(landing_page(request.app, user) or "/password")


# The modalities a study list offers to filter by (DICOM defined terms), commonest first.
MODALITY_CODES = ("CT", "MR", "DX", "CR", "US", "MG", "XA", "RF", "NM", "PT", "ES", "OT")
# The registry's yes/no settings the modality page edits (those the API answers with).
# The modality flags the page edits, with a new modality's default: replacing an archived object
# under its UID is a right given one by one (off), as is sending ASCII only.
MODALITY_FLAGS = {
    "allow_store": True,
    "allow_query": True,
    "allow_retrieve": True,
    "allow_overwrite": False,
    "ascii_only": False,
    "tls": False,  # our associations to it (C-MOVE, commitment reports) over DICOM TLS
}
# The actions the shell records; "login." is the family of ok and failed sign-ins. The audit
# page offers these and whatever else the trail holds (every area records its own).
AUDIT_ACTIONS = ("login.", *(action.value for action in auth.AuditAction))
# The report column of the study list.
REPORT_STATUSES = ("none", "draft", "submitted", "reviewed", "signed")

Admin = Annotated[auth.User, Depends(require_page("admin"))]


@router.get("/studies")
def studies_page(
    request: Request, user: Annotated[auth.User, Depends(require_page(*STAFF))]
) -> Response:
    return render(
        request,
        "shell/studies.html",
        {"modalities": MODALITY_CODES},
        i18n_prefixes=("web.studies.",),
    )


@router.get("/admin")
def admin_page(request: Request, user: Admin) -> Response:
    """The administrator's start page: every administration page, and the core's health."""
    ctx = request.app.state.ctx
    links = [link for link in page_links(request.app, user) if link.group == "admin"]
    problems = request.app.state.health.problems(ctx.engine)
    return render(request, "shell/admin.html", {"links": links, "problems": problems})


@router.get("/admin/users")
def users_page(request: Request, user: Admin) -> Response:
    return render(
        request,
        "shell/users.html",
        {"roles": auth.ROLES, "policy": _policy(request)},
        i18n_prefixes=("web.users.", "web.role."),
    )


@router.get("/admin/modalities")
def modalities_page(request: Request, user: Admin) -> Response:
    return render(
        request,
        "shell/modalities.html",
        {"flags": MODALITY_FLAGS},
        i18n_prefixes=("web.modalities.",),
    )


def audit_label(lang: str, action: str) -> str:
    """An action as the audit page shows it: its catalogue label (``audit.<action>``), else
    its area's name and the action (never only the raw key)."""
    texts = i18n.catalogue()
    if f"audit.{action}" in texts:
        return i18n.translate(lang, f"audit.{action}")
    family = action.split(".")[0]
    family_key = f"audit.family.{family}" if f"audit.family.{family}" in texts else ""
    name = i18n.translate(lang, family_key or "audit.family.other")
    return i18n.translate(lang, "audit.unlabelled", family=name, action=action)


@router.get("/admin/audit")
def audit_page(request: Request, user: Admin) -> Response:
    recorded = auth.audit_actions(request.app.state.ctx.engine)
    actions = list(dict.fromkeys([*AUDIT_ACTIONS, *recorded]))
    lang = _lang(request)
    labelled = [(action, audit_label(lang, action)) for action in actions]
    return render(
        request,
        "shell/audit.html",
        {"actions": labelled, "labels": dict(labelled)},
        i18n_prefixes=("web.audit.",),
    )


def install(app: FastAPI) -> None:
    """The shell: its pages and their static files, the study search and audit APIs, and the
    redirect to sign-in (refusals, a page's 403 included, are ``web/refusals.py``'s)."""

    async def login_required(request: Request, exc: Exception) -> Response:
        assert isinstance(exc, LoginRequired)
        return _redirect(exc.location)

    app.add_exception_handler(LoginRequired, login_required)
    # Stylesheets, scripts and icons only: the login page needs them before anyone signs in.
    mount_static(app)
    app.include_router(router)
    app.include_router(account.router)
    app.include_router(routes_studies.router)
    app.include_router(routes_audit.router)
    add_page_link(
        app, PageLink("web.nav.studies", "/studies", STAFF, order=10, landing=("clinician",))
    )
    admin = ("admin",)
    add_page_link(
        app, PageLink("web.nav.admin", "/admin", admin, order=899, landing=admin, menu="admin")
    )
    add_page_link(app, PageLink("web.nav.users", "/admin/users", admin, order=900))
    add_page_link(app, PageLink("web.nav.modalities", "/admin/modalities", admin, order=910))
    add_page_link(app, PageLink("web.nav.audit", "/admin/audit", admin, order=920))
