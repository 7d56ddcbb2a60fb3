"""Forwarded headers from trusted reverse proxies only, and the headers every response gets.

A client can put any ``X-Forwarded-For``, ``-Proto`` or ``-Host`` in its request. Believed
from anyone, they would let it pick the address that sign-in limits and the audit trail
record, make a plain-HTTP cookie look ``Secure``-worthy, and name the host the CSRF check
compares ``Origin`` with. So they are applied only when the connection comes from one of the
``trusted_proxies`` (addresses or networks; default none), and uvicorn's own handling is off
(``server.serve``), which would otherwise trust the loopback.

Behind a trusted proxy: the client address is the rightmost ``X-Forwarded-For`` entry that is
not itself a trusted proxy; the scheme is ``X-Forwarded-Proto``; ``X-Forwarded-Host`` is kept
for the CSRF check (``request.state.forwarded_host``).
"""

from __future__ import annotations

import ipaddress
from collections.abc import Iterable
from typing import Any

from starlette.datastructures import MutableHeaders
from starlette.types import ASGIApp, Message, Receive, Scope, Send

Network = ipaddress.IPv4Network | ipaddress.IPv6Network

# Where patient data travels as JSON or DICOM: never kept in a browser's or proxy's cache.
PATIENT_DATA_PREFIXES = ("/api/", "/dicom-web", "/wado")


def parse_networks(value: str | Iterable[str]) -> tuple[Network, ...]:
    """``"10.0.0.5, 192.168.1.0/24, ::1"`` -> networks; a bad entry is a clear error."""
    items = value.split(",") if isinstance(value, str) else value
    networks = []
    for item in (i.strip() for i in items):
        if not item:
            continue
        try:
            networks.append(ipaddress.ip_network(item, strict=False))
        except ValueError:
            raise ValueError(f"trusted_proxies: {item!r} is not an address or network") from None
    return tuple(networks)


def _trusted(address: str, networks: tuple[Network, ...]) -> bool:
    try:
        ip = ipaddress.ip_address(address.strip().strip("[]"))
    except ValueError:
        return False
    return any(ip in network for network in networks)


def _header(scope: Scope, name: bytes) -> str:
    values = [v.decode("latin-1") for k, v in scope["headers"] if k == name]
    return ", ".join(values)


class ForwardedHeaders:
    """Applies ``X-Forwarded-*`` from the configured proxies (see the module's docstring)."""

    def __init__(self, app: ASGIApp, trusted: str | Iterable[str] = "") -> None:
        self.app = app
        self.networks = parse_networks(trusted)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] in ("http", "websocket") and self.networks:
            peer = scope.get("client")
            if peer and _trusted(peer[0], self.networks):
                self._apply(scope)
        await self.app(scope, receive, send)

    def _apply(self, scope: Scope) -> None:
        state: dict[str, Any] = scope.setdefault("state", {})
        state["proxied"] = True
        hops = [h.strip() for h in _header(scope, b"x-forwarded-for").split(",") if h.strip()]
        for hop in reversed(hops):
            if not _trusted(hop, self.networks):
                scope["client"] = (hop.strip("[]"), 0)
                break
        proto = _header(scope, b"x-forwarded-proto").split(",")[0].strip().lower()
        if proto in ("http", "https"):
            scope["scheme"] = proto.replace("http", "ws") if scope["type"] == "websocket" else proto
        host = _header(scope, b"x-forwarded-host").split(",")[0].strip().lower()
        if host:
            state["forwarded_host"] = host


class SecurityHeaders:
    """``X-Content-Type-Options: nosniff`` on every response, and ``Cache-Control: no-store``
    on API and DICOMweb answers (patient data) unless the route chose its own caching."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        patient_data = scope["path"].startswith(PATIENT_DATA_PREFIXES)

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = MutableHeaders(scope=message)
                headers.setdefault("X-Content-Type-Options", "nosniff")
                if patient_data:
                    headers.setdefault("Cache-Control", "no-store")
            await send(message)

        await self.app(scope, receive, send_with_headers)
