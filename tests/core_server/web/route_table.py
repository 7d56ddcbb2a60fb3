"""Every route of the app, for the tests that check no route is left open.

FastAPI (0.16x) keeps included routers as branches rather than copying their routes into
``app.routes``; this walks the branches, so a route added by any router is seen, whether or
not it is in the OpenAPI schema.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from fastapi import FastAPI
from fastapi.routing import APIRoute, APIWebSocketRoute
from starlette.routing import Mount, Route, WebSocketRoute


@dataclass(frozen=True)
class Endpoint:
    method: str  # "WS" for a WebSocket
    path: str
    roles: frozenset[str] | None  # None: no role check found in its dependencies
    page: bool  # an HTML page (not in the API schema, outside /api)


def endpoints(app: FastAPI) -> list[Endpoint]:
    found: dict[tuple[str, str], Endpoint] = {}
    for route, path, extra in _flat(app.routes, []):
        if isinstance(route, Mount):
            found[("MOUNT", path)] = Endpoint("MOUNT", path, None, False)
            continue
        calls = _calls(route) + [d.dependency for d in extra if d.dependency is not None]
        # The server may swap a placeholder dependency for a real check (DICOMweb does).
        roles = _roles([app.dependency_overrides.get(call, call) for call in calls])
        if isinstance(route, APIWebSocketRoute | WebSocketRoute):
            found[("WS", path)] = Endpoint("WS", path, roles, False)
            continue
        if not isinstance(route, Route):
            continue
        page = not getattr(route, "include_in_schema", True) and not path.startswith("/api")
        for method in sorted(route.methods or ()):
            if method != "HEAD":
                found[(method, path)] = Endpoint(method, path, roles, page)
    return sorted(found.values(), key=lambda e: (e.path, e.method))


def _flat(routes: list[Any], extra: list[Any]) -> Iterator[tuple[Any, str, list[Any]]]:
    """(route, the path it answers at, dependencies its routers add)."""
    for route in routes:
        kind = type(route).__name__
        if kind == "_IncludedRouter":
            yield from _flat(route.effective_candidates(), extra)
        elif kind == "_EffectiveRouteContext":
            deps = [*extra, *getattr(route, "dependencies", [])]
            original = route.original_route
            starlette = route.starlette_route
            path = route.path or getattr(starlette, "path", "") or original.path
            if isinstance(original, APIRoute | APIWebSocketRoute):
                yield original, path, deps
            else:
                yield starlette or original, path, deps
        else:
            yield route, getattr(route, "path", ""), extra


def _calls(route: Any) -> list[Any]:
    dependant = getattr(route, "dependant", None)
    calls: list[Any] = []
    stack = [dependant] if dependant is not None else []
    while stack:
        node = stack.pop()
        if node.call is not None:
            calls.append(node.call)
        stack.extend(node.dependencies)
    calls.extend(d.dependency for d in getattr(route, "dependencies", []) if d.dependency)
    return calls


def _roles(calls: list[Any]) -> frozenset[str] | None:
    checks = [frozenset(call.roles) for call in calls if hasattr(call, "roles")]
    if not checks:
        return None
    return frozenset.intersection(*checks)


def concrete(path: str) -> str:
    return re.sub(r"\{[^}]+\}", "X", path).replace(":path", "")
