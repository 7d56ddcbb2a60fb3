"""The DICOM port: accept connections and hand each requested association to its path.

One thread accepts; each connection gets a thread of its own that reads (peeks) and checks the
A-ASSOCIATE-RQ within the ARTIM timeout (:func:`~core_server.dicom.negotiation.read_request`),
so an idle or malformed connection costs a sleeping thread for at most that long and never
reaches pynetdicom, whose two polling threads per association slowed every other association
down (accepting took longer from the 7th idle connection on). A valid request goes to
``route``, which serves it on that thread or hands it to pynetdicom.

A TLS listener (``tls``, the DICOM TLS port) does the server handshake on that thread, within
the ARTIM timeout too, before anything is read: both paths get the TLS socket
(:class:`~core_server.tls.contexts.PeekingSSLSocket`, which serves the request's peek).
"""

from __future__ import annotations

import contextlib
import logging
import socket
import ssl
import threading
from collections.abc import Callable

from pynetdicom.pdu_primitives import A_ASSOCIATE

from core_server.dicom import negotiation
from core_server.tls import contexts

log = logging.getLogger(__name__)
# route(socket, address, request) -> True when it took the socket over (then it closes it)
Route = Callable[[socket.socket, tuple[str, int], A_ASSOCIATE], bool]


class Listener:
    def __init__(
        self,
        host: str,
        port: int,
        route: Route,
        *,
        artim: float = 30.0,
        share_port: bool = False,
        backlog: int = 128,
        tls: ssl.SSLContext | None = None,
        refused: Callable[[str, str], None] | None = None,
    ) -> None:
        self.host, self.port = host, port
        self.refused = refused  # (peer address, reason) of a refused TLS handshake: audited
        self.route = route
        self.artim = artim
        self.share_port = share_port
        self.backlog = backlog
        self.tls = tls
        self._socket: socket.socket | None = None
        self._thread: threading.Thread | None = None

    def start(self) -> None:
        family = socket.AF_INET6 if ":" in self.host else socket.AF_INET
        listening = socket.socket(family, socket.SOCK_STREAM)
        listening.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        if self.share_port:  # several core processes on one port (--dicom-workers)
            listening.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
        listening.bind((self.host, self.port))
        listening.listen(self.backlog)
        self.port = listening.getsockname()[1]
        self._socket = listening
        self._thread = threading.Thread(target=self._accept, name="dicom-acceptor", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        listening, self._socket = self._socket, None
        if listening is None:
            return
        with contextlib.suppress(OSError):
            listening.shutdown(socket.SHUT_RDWR)  # wakes the blocked accept()
        listening.close()
        if self._thread is not None:
            self._thread.join(timeout=5)

    @property
    def running(self) -> bool:
        return self._socket is not None

    def _accept(self) -> None:
        while (listening := self._socket) is not None:
            try:
                sock, address = listening.accept()
            except OSError:
                if self._socket is None:
                    return  # stopped
                log.exception("accepting a DICOM connection failed")
                continue
            threading.Thread(
                target=self._serve, args=(sock, address), name="dicom-association", daemon=True
            ).start()

    def _serve(self, sock: socket.socket, address: tuple[str, int]) -> None:
        taken = False
        try:
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            if self.tls is not None:
                sock = contexts.accept(sock, self.tls, self.artim)
            request = negotiation.read_request(sock, self.artim)
            taken = self.route(sock, address, request)
        except ssl.SSLError as exc:
            log.warning("TLS connection from %s refused: %s", address[0], exc)
            if self.refused is not None:
                self.refused(address[0], getattr(exc, "reason", None) or str(exc))
        except negotiation.Refused as exc:
            log.info("connection from %s closed: %s", address[0], exc)
        except (OSError, ConnectionError) as exc:
            log.info("association from %s ended: %s", address[0], exc)
        except Exception:
            log.exception("association from %s failed", address[0])
        finally:
            if not taken:
                with contextlib.suppress(OSError):
                    sock.shutdown(socket.SHUT_RDWR)
                sock.close()
