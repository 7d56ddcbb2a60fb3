"""TLS for every port: the appliance CA, certificates, and the contexts the HTTP, DICOM and HL7
listeners use (docs/tls.md).

The TLS listeners start when the certificate and key exist (``core-server tls init`` makes
them, or the settings name the hospital's); without them the core serves the plain ports only,
and refuses to start when those are switched off (``cleartext`` false).
"""

from __future__ import annotations

import ssl
from typing import Any, Literal

from core_server.tls.certificates import Files, TlsError
from core_server.tls.contexts import client_context, server_context

__all__ = ["Files", "TlsError", "client_context", "files_of", "listener_context", "outgoing"]


def files_of(settings: Any) -> Files:
    """The TLS files the core's settings name (``tls_cert``, ``tls_key``, ``tls_ca``)."""
    return Files(settings.tls_cert, settings.tls_key, settings.tls_ca)


def listener_context(
    settings: Any, kind: Literal["dicom", "hl7", "https"]
) -> ssl.SSLContext | None:
    """The server context of one kind of TLS port, or None when there is no certificate."""
    files = files_of(settings)
    if not files.present():
        if not settings.cleartext:
            raise TlsError(
                f"cleartext is off but there is no certificate at {files.cert}: run"
                " `core-server tls init` or set tls_cert and tls_key"
            )
        return None
    if kind == "https":
        return server_context(files, dicom=False)
    return server_context(
        files, client_certs=settings.tls_client_certs, legacy=settings.tls_legacy_ciphers
    )


def outgoing(files: Files, *, dicom: bool = False) -> ssl.SSLContext:
    """The context of a connection we open to a peer marked ``tls`` (a C-MOVE destination, a
    commitment report, an HL7 destination): its certificate checked against ``tls_ca`` (the
    system's CAs when that file is missing), ours offered when we have one. Made per connection,
    so a renewed certificate is used at once. ``dicom``: the DICOM paths' socket class."""
    ca = str(files.ca) if files.ca.is_file() else None
    cert = (str(files.cert), str(files.key)) if files.present() else None
    context = client_context(ca, cert=cert)
    if dicom:
        from core_server.tls.contexts import BCP195, PeekingSSLSocket

        context.set_ciphers(BCP195)  # PS3.15 B.9 on TLS 1.2; TLS 1.3's suites stay on
        context.sslsocket_class = PeekingSSLSocket
    return context
