"""The TLS contexts of every port, and the server socket the DICOM paths read.

The DICOM ports follow PS3.15 B.9 (BCP 195 TLS profile): TLS 1.2 or 1.3, forward-secret AEAD
suites (TLS 1.3's own suites are always on); ``legacy`` adds the B.3 AES profile's
RSA-key-exchange AES-CBC suites, still over TLS 1.2, for modalities that know nothing newer.
HTTPS takes the same floor (TLS 1.2) with OpenSSL's default suites, which browsers expect.
"""

from __future__ import annotations

import socket
import ssl
from collections.abc import Callable
from typing import Any

from core_server.tls.certificates import Files, TlsError

# PS3.15 B.9 / BCP 195 (RFC 7525 section 4.2), RSA and ECDSA certificates.
BCP195 = ":".join(
    [
        "ECDHE-RSA-AES128-GCM-SHA256",
        "ECDHE-RSA-AES256-GCM-SHA384",
        "ECDHE-ECDSA-AES128-GCM-SHA256",
        "ECDHE-ECDSA-AES256-GCM-SHA384",
        "DHE-RSA-AES128-GCM-SHA256",
        "DHE-RSA-AES256-GCM-SHA384",
    ]
)
# PS3.15 B.3 (AES TLS secure transport connection profile): TLS_RSA_WITH_AES_128_CBC_SHA.
LEGACY = "AES128-SHA:AES256-SHA:AES128-SHA256"

CLIENT_CERTS = {"none": ssl.CERT_NONE, "optional": ssl.CERT_OPTIONAL, "required": ssl.CERT_REQUIRED}


class PeekingSSLSocket(ssl.SSLSocket):
    """An SSL socket that serves ``recv(n, MSG_PEEK | MSG_WAITALL)`` and
    ``recv_into(view, 0, MSG_WAITALL)`` as the plain DICOM paths call them (the kernel flags
    mean nothing under TLS: ``ssl`` refuses them). Peeked plaintext is kept here and read
    first; ``pending()`` counts it, so pynetdicom's readiness check (select or pending) sees it.
    """

    _peeked: bytearray

    def _buffer(self) -> bytearray:
        try:
            return self._peeked
        except AttributeError:
            self._peeked = bytearray()
            return self._peeked

    def pending(self) -> int:
        return len(self._buffer()) + super().pending()

    def recv(self, buflen: int = 1024, flags: int = 0) -> bytes:
        buffer = self._buffer()
        if flags & socket.MSG_PEEK:
            self._fill(buflen, bool(flags & socket.MSG_WAITALL))
            return bytes(buffer[:buflen])
        if buffer:
            out = bytes(buffer[:buflen])
            del buffer[:buflen]
            return out
        if flags & socket.MSG_WAITALL:
            self._fill(buflen, True)
            out = bytes(buffer[:buflen])
            del buffer[:buflen]
            return out
        return super().recv(buflen)

    def recv_into(self, buffer: Any, nbytes: int | None = None, flags: int = 0) -> int:
        view = memoryview(buffer).cast("B")
        size = nbytes or len(view)
        data = self.recv(size, flags & socket.MSG_WAITALL)
        view[: len(data)] = data
        return len(data)

    def sendmsg(self, buffers: Any, *_: Any) -> int:  # type: ignore[override]
        """The direct path's gathered write (header and stored bytes, no copy in clear): under
        TLS one buffer, encrypted as few records."""
        data = b"".join(buffers)
        self.sendall(data)
        return len(data)

    def _fill(self, size: int, wait_all: bool) -> None:
        buffer = self._buffer()
        while len(buffer) < size:
            data = super().recv(size - len(buffer))
            if not data:
                return  # closed
            buffer.extend(data)
            if not wait_all:
                return


def server_context(
    files: Files,
    *,
    client_certs: str = "none",
    legacy: bool = False,
    dicom: bool = True,
) -> ssl.SSLContext:
    """A server context on the certificate and key; client certificates checked against the
    CA when asked for. ``dicom``: the profile's suites and the peeking socket class."""
    if not files.present():
        raise TlsError(f"no TLS certificate at {files.cert} (and key {files.key}): `tls init`")
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.minimum_version = ssl.TLSVersion.TLSv1_2
    try:
        context.load_cert_chain(files.cert, files.key)
    except (OSError, ssl.SSLError) as exc:
        raise TlsError(f"cannot use {files.cert} with {files.key}: {exc}") from exc
    if dicom:
        context.set_ciphers(BCP195 + (":" + LEGACY if legacy else ""))
        context.sslsocket_class = PeekingSSLSocket
    context.verify_mode = CLIENT_CERTS[client_certs]
    if context.verify_mode != ssl.CERT_NONE:
        if not files.ca.is_file():
            raise TlsError(f"client certificates are checked against {files.ca}: missing")
        context.load_verify_locations(files.ca)
    return context


def client_context(ca: str | None = None, *, cert: tuple[str, str] | None = None) -> ssl.SSLContext:
    """For our own connections out (C-MOVE destinations, commitment reports, HL7): the peer's
    certificate checked against ``ca`` (a PEM file) or the system's store; our certificate
    shown when the peer asks for one."""
    context = ssl.create_default_context(cafile=ca)
    context.minimum_version = ssl.TLSVersion.TLSv1_2
    context.check_hostname = False  # modalities are known by address and AE title, not names
    if cert is not None:
        context.load_cert_chain(*cert)
    return context


def accept(sock: socket.socket, context: ssl.SSLContext, timeout: float) -> ssl.SSLSocket:
    """The server side of the handshake on an accepted connection, within ``timeout`` (a
    failed or silent handshake raises OSError/ssl.SSLError and the caller closes)."""
    sock.settimeout(timeout)
    tls = context.wrap_socket(sock, server_side=True, do_handshake_on_connect=False)
    try:
        tls.do_handshake()
    except BaseException:
        tls.close()  # the plain socket was detached into it
        raise
    return tls


def reloader(context: ssl.SSLContext, files: Files) -> Callable[[], None]:
    """Load a renewed certificate into a live context: new connections get it."""
    return lambda: context.load_cert_chain(files.cert, files.key)
