"""RFC 5424 syslog messages carried to the audit repository over TLS (RFC 5425,
octet-counting framing) or UDP (RFC 5426), as IHE ATNA's Record Audit Event asks."""

from __future__ import annotations

import contextlib
import logging
import socket
import ssl
from datetime import datetime
from pathlib import Path
from typing import Protocol

from core_server import clock

log = logging.getLogger(__name__)

# authpriv (10) * 8 + notice (5): IHE ITI TF-2a 3.20.6.1
PRIORITY = 85
MSGID = "IHE+RFC-3881"
BOM = b"\xef\xbb\xbf"  # RFC 5424 6.4: a UTF-8 MSG starts with the BOM
UDP_LIMIT = 65_000  # a larger datagram is refused by the stack; RFC 5426 3.2 allows truncation


def frame(
    body: bytes, *, hostname: str, app_name: str, procid: str, at: datetime | None = None
) -> bytes:
    """One RFC 5424 message: header, no structured data (``-``), the UTF-8 XML as MSG."""
    stamp = clock.iso(at or clock.now()) or "-"  # RFC 3339 with the hospital's offset
    header = " ".join(
        (
            f"<{PRIORITY}>1",
            stamp,
            _field(hostname, 255),
            _field(app_name, 48),
            _field(procid, 128),
            MSGID,
            "-",
        )
    )
    return header.encode("ascii") + b" " + BOM + body


def _field(value: str, limit: int) -> str:
    """A header field: printable US-ASCII without spaces, or the nil value."""
    cleaned = "".join(c for c in value if 33 <= ord(c) <= 126)[:limit]
    return cleaned or "-"


class Transport(Protocol):
    def send(self, message: bytes) -> None: ...
    def close(self) -> None: ...


class UdpTransport:
    """RFC 5426: one message a datagram; no acknowledgement (lost datagrams stay lost)."""

    def __init__(self, host: str, port: int) -> None:
        self.address = (host, port)
        self._socket: socket.socket | None = None

    def send(self, message: bytes) -> None:
        if len(message) > UDP_LIMIT:
            log.error("ATNA message of %d bytes cut to %d for UDP", len(message), UDP_LIMIT)
            message = message[:UDP_LIMIT]
        if self._socket is None:
            family = socket.getaddrinfo(*self.address, type=socket.SOCK_DGRAM)[0][0]
            self._socket = socket.socket(family, socket.SOCK_DGRAM)
        self._socket.sendto(message, self.address)

    def close(self) -> None:
        if self._socket is not None:
            self._socket.close()
            self._socket = None


class TlsTransport:
    """RFC 5425: one TLS connection kept open, each message as ``LENGTH SP MESSAGE``. The
    repository's certificate is checked against ``ca`` (and its host name); our certificate is
    offered when there is one (ATNA's node authentication is mutual)."""

    def __init__(
        self,
        host: str,
        port: int,
        *,
        ca: Path | None = None,
        cert: Path | None = None,
        key: Path | None = None,
        timeout: float = 10.0,
    ) -> None:
        self.host, self.port, self.timeout = host, port, timeout
        self.context = ssl.create_default_context(cafile=str(ca) if ca else None)
        self.context.minimum_version = ssl.TLSVersion.TLSv1_2
        if cert is not None and key is not None and cert.is_file() and key.is_file():
            self.context.load_cert_chain(cert, key)
        self._socket: ssl.SSLSocket | None = None

    def send(self, message: bytes) -> None:
        if self._socket is None:
            raw = socket.create_connection((self.host, self.port), timeout=self.timeout)
            try:
                self._socket = self.context.wrap_socket(raw, server_hostname=self.host)
            except BaseException:
                raw.close()
                raise
        try:
            self._socket.sendall(str(len(message)).encode("ascii") + b" " + message)
        except OSError:
            self.close()  # the next try opens a new connection
            raise

    def close(self) -> None:
        if self._socket is not None:
            with contextlib.suppress(OSError):
                self._socket.close()
            self._socket = None
