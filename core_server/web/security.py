"""Authentication (bearer token or session cookie) and role checks for every route.

Both credentials are the same opaque token from ``core_server.auth``: programs send it as
``Authorization: Bearer``, browsers carry it in the HttpOnly session cookie set by the login
page. A cookie rides along with requests other sites make, so a cookie-authenticated request
that changes state must come from this site (its ``Origin``, or failing that ``Referer``,
names our own host: the ``Host`` header, or the ``X-Forwarded-Host`` of a trusted proxy,
see ``proxies.py``); SameSite=Lax already keeps the cookie off cross-site sub-requests.
Bearer requests need no such check: no other site can make a browser add that header.

Refusals are :class:`~core_server.refusals.Refusal` (texts in ``messages/web.json``): 401
``web.auth.signed_out``, 403 ``web.auth.forbidden``, ``web.auth.cross_site``,
``web.auth.password_change_required``.

An interactive (cookie) session whose password must be changed can only reach the password
change, "who am I" and sign-out until it does.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Annotated, Any
from urllib.parse import quote, urlsplit

from fastapi import Depends, Request, WebSocket, status
from fastapi.security import OAuth2PasswordBearer
from starlette.requests import HTTPConnection
from starlette.responses import Response

from core_server import queueing
from core_server.auth import ROLES, User, record_audit, user_for_token
from core_server.refusals import Forbidden, Refusal

bearer = OAuth2PasswordBearer(tokenUrl="/api/auth/token", auto_error=False)

SESSION_COOKIE = "session"
_SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})


class SignedOut(Refusal):
    """No valid credential: the session ended, or none was sent (answered with
    ``WWW-Authenticate: Bearer``)."""

    status = 401

    def __init__(self) -> None:
        super().__init__("web.auth.signed_out")


class LoginRequired(Exception):
    """Raised by page dependencies; the app answers with a redirect to the login page."""

    def __init__(self, location: str) -> None:
        self.location = location


class PageForbidden(Forbidden):
    """Raised by page dependencies for a signed-in user without the page's role: the
    refusal handler shows it as the HTML error page."""

    def __init__(self) -> None:
        super().__init__("web.error.forbidden")


def session_token(request: Request, token: str | None) -> tuple[str | None, bool]:
    """The presented token and whether it came from the session cookie."""
    if token:
        return token, False
    cookie = request.cookies.get(SESSION_COOKIE)
    return (cookie, True) if cookie else (None, False)


def presented_token(request: Request) -> str | None:
    """The token this request carries, bearer header or cookie."""
    scheme, _, value = request.headers.get("authorization", "").partition(" ")
    return session_token(request, value.strip() if scheme.lower() == "bearer" else None)[0]


def same_origin(conn: HTTPConnection) -> bool:
    """Did the browser say the request comes from a page of this host? The host is the
    ``Host`` header, or the ``X-Forwarded-Host`` a trusted proxy passed on (``proxies.py``;
    from anyone else it is ignored: a script on this machine or a client on the LAN could
    otherwise name any host)."""
    headers = conn.headers
    source = headers.get("origin") or headers.get("referer")
    if not source or source == "null":
        return False
    netloc = urlsplit(source).netloc.lower()
    forwarded = str(conn.scope.get("state", {}).get("forwarded_host", ""))
    return netloc in {headers.get("host", "").lower(), forwarded} - {""}


def client_address(conn: HTTPConnection) -> str:
    """The client's address (a trusted proxy's ``X-Forwarded-For`` applied)."""
    return conn.client.host if conn.client else ""


def _authenticate(request: Request, token: str | None) -> User | None:
    raw, from_cookie = session_token(request, token)
    user = user_for_token(request.app.state.ctx.engine, raw) if raw else None
    if user is None:
        return None
    if from_cookie and request.method not in _SAFE_METHODS and not same_origin(request):
        raise Forbidden("web.auth.cross_site")
    request.state.user = user
    request.state.via_cookie = from_cookie
    if user.role == "device":  # every request a device makes says it is alive (monitoring)
        queueing.devices.seen(request.app.state.ctx.engine, user.username)
    return user


def current_user(request: Request, token: Annotated[str | None, Depends(bearer)]) -> User:
    user = _authenticate(request, token)
    if user is None:
        raise SignedOut
    return user


# Any signed-in user, even one who must still change the password: "who am I", sign-out and
# the password change itself. The route-table test reads ``roles``.
current_user.roles = ROLES  # type: ignore[attr-defined]


def _role_check(user: User, request: Request, roles: tuple[str, ...]) -> None:
    if getattr(request.state, "via_cookie", False) and user.must_change_password:
        raise Forbidden("web.auth.password_change_required")
    if user.role not in roles:
        raise Forbidden("web.auth.forbidden")


def require(*roles: str) -> Callable[..., User]:
    """A dependency that admits a signed-in user holding one of ``roles``. Its ``authorize``
    does the same given only the request: for an adapter whose routes cannot name the web's
    dependencies (DICOMweb), without ``app.dependency_overrides`` (while any override is set,
    FastAPI rebuilds every dependency of every route from its signature on each request)."""

    def check(request: Request, user: Annotated[User, Depends(current_user)]) -> User:
        _role_check(user, request, roles)
        return user

    def authorize(request: Request) -> User:
        user = _authenticate(request, presented_bearer(request))
        if user is None:
            raise SignedOut
        _role_check(user, request, roles)
        return user

    check.roles = roles  # type: ignore[attr-defined]  # read by the route-table test
    check.authorize = authorize  # type: ignore[attr-defined]
    return check


def presented_bearer(request: HTTPConnection) -> str | None:
    """The ``Authorization: Bearer`` token, as :data:`bearer` reads it (None without one)."""
    scheme, _, value = request.headers.get("authorization", "").partition(" ")
    return value.strip() if scheme.lower() == "bearer" else None


def require_page(*roles: str, password_change: bool = False) -> Callable[..., User]:
    """Like :func:`require` for HTML pages: an anonymous visitor is sent to the login page
    (and back here afterwards), one who must change the password to the change form (unless
    ``password_change``: the pages that form and sign-out need)."""

    def check(request: Request, token: Annotated[str | None, Depends(bearer)]) -> User:
        request.state.page = True  # a refusal here or in the page shows as the error page
        back = request.url.path + (f"?{request.url.query}" if request.url.query else "")
        if request.method not in _SAFE_METHODS:
            back = "/"  # never come back to a form's POST target
        user = _authenticate(request, token)
        if user is None:
            raise LoginRequired(f"/login?next={quote(back, safe='')}")
        if user.must_change_password and not password_change:
            raise LoginRequired(f"/password?next={quote(back, safe='')}")
        if user.role not in roles:
            raise PageForbidden
        return user

    check.roles = roles  # type: ignore[attr-defined]
    return check


async def websocket_user(websocket: WebSocket, *roles: str) -> User | None:
    """Authenticate a WebSocket before accepting it: the session cookie (from a page of this
    site, checked by ``Origin``), ``Authorization: Bearer`` or a ``token`` query parameter
    (for clients that cannot set headers). On refusal the socket is closed (policy violation,
    which a client sees as HTTP 403) and None returned."""
    header = websocket.headers.get("authorization", "")
    token = header[7:] if header.lower().startswith("bearer ") else ""
    token = token or websocket.query_params.get("token", "")
    cookie = websocket.cookies.get(SESSION_COOKIE, "")
    user = None
    if token:
        user = user_for_token(websocket.app.state.ctx.engine, token)
    elif cookie and same_origin(websocket):
        user = user_for_token(websocket.app.state.ctx.engine, cookie)
        if user is not None and user.must_change_password:
            user = None
    if user is None or user.role not in roles:
        await websocket.close(code=status.WS_1008_POLICY_VIOLATION)
        return None
    return user


def set_session_cookie(response: Response, request: Request, token: str, hours: float) -> None:
    """HttpOnly (no script reads it), SameSite=Lax, Secure whenever the request came over
    HTTPS (directly or through a trusted proxy's X-Forwarded-Proto, see ``proxies.py``)."""
    response.set_cookie(
        SESSION_COOKIE,
        token,
        max_age=int(hours * 3600),
        path="/",
        httponly=True,
        samesite="lax",
        secure=request.url.scheme == "https",
    )


def clear_session_cookie(response: Response, request: Request) -> None:
    response.delete_cookie(
        SESSION_COOKIE,
        path="/",
        httponly=True,
        samesite="lax",
        secure=request.url.scheme == "https",
    )


def audit(request: Request, user: User, action: str, target: str, detail: Any) -> None:
    """One audit record of what ``user`` did through this request (its client address)."""
    record_audit(
        request.app.state.ctx.engine,
        username=user.username,
        action=action,
        target=target,
        detail=detail,
        address=client_address(request),
    )
