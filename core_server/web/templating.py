"""Server-rendered pages: one Jinja2 environment, the shared layout, and page links.

Every page extends ``templates/base.html`` (header with the hospital's name, navigation for
the user's role, user menu, language switch) and gets in its context:

- ``t(key, **values)``: the text of a catalogue key in the page's language,
- ``user`` (or None), ``lang``, ``html_lang``, ``hospital_name``, ``nav``, ``current_path``.

A page's script reads its texts from the JSON block the layout writes (``i18n_prefixes``
chooses which keys), so scripts hold no user-facing strings either.

Other areas add their pages to the navigation with :func:`add_page_link` when their router is
included. The header groups them in two menus, 工作 (work) and 管理 (administration, the links
ordered 900 and above, or ``menu="admin"``); a group of up to ``INLINE_LINKS`` links shows
inline. A link's ``landing`` names the roles that land on it after sign-in and at ``/``
(a role without one lands on its first link).

A feature keeps its own folder, ``web/<feature>/`` with ``templates/`` (rendered as
``<feature>/<name>.html``), ``static/`` (served at ``/static/<feature>/``) and
``messages.json``; older areas still have theirs in ``templates/<area>/`` and ``static/``.
Scripts are ES modules that import the shared ones in ``static/shared/`` (api, i18n, dates,
dom, ws); the page's ``<html data-timezone>`` names the hospital's zone for ``dates.js``.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import jinja2
from fastapi import FastAPI, Request
from fastapi.responses import HTMLResponse

from core_server import i18n
from core_server.auth import User

WEB_DIR = Path(__file__).parent
TEMPLATES_DIR = WEB_DIR / "templates"
STATIC_DIR = WEB_DIR / "static"


def feature_dirs(kind: str) -> dict[str, Path]:
    """Feature name -> its ``web/<feature>/<kind>`` folder (kind: templates or static)."""
    return {p.parent.name: p for p in sorted(WEB_DIR.glob(f"*/{kind}")) if p.is_dir()}


# Everything a page loads comes from the appliance itself; scripts never run inline.
CONTENT_SECURITY_POLICY = (
    "default-src 'self'; img-src 'self' data:; object-src 'none'; "
    "base-uri 'self'; form-action 'self'; frame-ancestors 'self'"
)

_environment = jinja2.Environment(
    loader=jinja2.ChoiceLoader(
        [
            jinja2.PrefixLoader(
                {name: jinja2.FileSystemLoader(d) for name, d in feature_dirs("templates").items()}
            ),
            jinja2.FileSystemLoader(TEMPLATES_DIR),
        ]
    ),
    autoescape=True,
    undefined=jinja2.StrictUndefined,
    trim_blocks=True,
    lstrip_blocks=True,
)


# Links ordered from here on are the administration menu's.
ADMIN_ORDER = 900
# A menu with up to this many links shows them inline in the header.
INLINE_LINKS = 6
MENUS = ("work", "admin")


@dataclass(frozen=True)
class PageLink:
    """An entry of the header's navigation: ``key`` is its catalogue key; ``landing`` the
    roles whose start page it is; ``menu`` "work" or "admin" (default: by ``order``)."""

    key: str
    href: str
    roles: tuple[str, ...]
    order: int = 100
    landing: tuple[str, ...] = ()
    menu: str = ""

    @property
    def group(self) -> str:
        return self.menu or ("admin" if self.order >= ADMIN_ORDER else "work")


@dataclass(frozen=True)
class NavGroup:
    """One menu of the header as the user's role sees it."""

    name: str
    links: list[PageLink]
    inline: bool
    active: bool


def add_page_link(app: FastAPI, link: PageLink) -> None:
    if link.group not in MENUS:
        raise ValueError(f"{link.href}: menu {link.menu!r} is not one of {MENUS}")
    links: list[PageLink] = [*getattr(app.state, "page_links", []), link]
    app.state.page_links = sorted(links, key=lambda item: (item.order, item.href))


def page_links(app: FastAPI, user: User | None) -> list[PageLink]:
    if user is None:
        return []
    links: list[PageLink] = getattr(app.state, "page_links", [])
    return [link for link in links if user.role in link.roles]


def landing_page(app: FastAPI, user: User) -> str | None:
    """Where ``user`` starts: the page a feature declared for the role, else the first."""
    links = page_links(app, user)
    chosen = next((link for link in links if user.role in link.landing), None)
    chosen = chosen or (links[0] if links else None)
    return chosen.href if chosen else None


def current_link(links: list[PageLink], path: str) -> str:
    """The href of the link the page at ``path`` belongs to: the longest that matches
    (``/admin/users`` is under 用户管理, not the ``/admin`` overview)."""
    matching = [
        link.href for link in links if path == link.href or path.startswith(link.href + "/")
    ]
    return max(matching, key=len, default="")


def nav_groups(app: FastAPI, user: User | None, path: str) -> tuple[list[NavGroup], str]:
    """The header's menus for ``user`` and the href of the current page's link."""
    links = page_links(app, user)
    current = current_link(links, path)
    groups = []
    for name in MENUS:
        members = [link for link in links if link.group == name]
        if members:
            inline = name == "work" and len(members) <= INLINE_LINKS
            active = any(link.href == current for link in members)
            groups.append(NavGroup(name, members, inline, active))
    return groups, current


def mount_static(app: FastAPI) -> None:
    """Each feature's static files at ``/static/<feature>/``, then the shared ``/static``."""
    from fastapi.staticfiles import StaticFiles

    for name, directory in feature_dirs("static").items():
        app.mount(f"/static/{name}", StaticFiles(directory=directory), name=f"static-{name}")
    app.mount("/static", StaticFiles(directory=STATIC_DIR), name="static")


def render(
    request: Request,
    template: str,
    context: dict[str, Any] | None = None,
    *,
    user: User | None = None,
    status_code: int = 200,
    i18n_prefixes: tuple[str, ...] = (),
    headers: dict[str, str] | None = None,
) -> HTMLResponse:
    """Render ``template`` in the request's language, with the layout's context."""
    lang = i18n.language(request.cookies, request.headers.get("accept-language", ""))
    if user is None:
        user = getattr(request.state, "user", None)

    def t(key: str, /, **values: object) -> str:
        return i18n.translate(lang, key, **values)

    settings = request.app.state.ctx.settings
    nav, current = nav_groups(request.app, user, request.url.path)
    page = {
        "t": t,
        "lang": lang,
        "languages": i18n.LANGUAGES,
        "html_lang": i18n.HTML_LANG[lang],
        "timezone": settings.timezone,
        "user": user,
        "hospital_name": settings.hospital_name or t("web.product_name"),
        "nav": nav,
        "current_link": current,
        "current_path": request.url.path,
        "i18n_texts": i18n.bundle(lang, ("web.common.", *i18n_prefixes)),
        **(context or {}),
    }
    body = _environment.get_template(template).render(page)
    response = HTMLResponse(body, status_code=status_code, headers=headers)
    response.headers["Content-Security-Policy"] = CONTENT_SECURITY_POLICY
    response.headers["Cache-Control"] = "no-store"  # pages can show patient data
    response.headers["X-Content-Type-Options"] = "nosniff"
    response.headers["Referrer-Policy"] = "same-origin"
    return response
