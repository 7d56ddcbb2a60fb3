"""A syslog audit repository for the tests: RFC 5425 (TLS, octet counting) and RFC 5426 (UDP)
receivers that check each message's RFC 5424 header and validate its XML against the DICOM
standard's RELAX NG schema (PS3.15 A.5.1) with lxml."""

from __future__ import annotations

import re
import socket
import ssl
import subprocess
import threading
from dataclasses import dataclass
from pathlib import Path

from lxml import etree

SCHEMA_FILE = Path(__file__).with_name("dicom_audit_message.rnc")
# RFC 5424 6: <PRI>VERSION SP TIMESTAMP SP HOSTNAME SP APP-NAME SP PROCID SP MSGID SP SD
HEADER = re.compile(
    rb"^<(?P<pri>\d{1,3})>(?P<version>1) (?P<timestamp>\S+) (?P<hostname>\S{1,255}) "
    rb"(?P<app>\S{1,48}) (?P<procid>\S{1,128}) (?P<msgid>\S{1,32}) (?P<sd>-|\[.*?\]) "
)
TIMESTAMP = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d{1,6})?(Z|[+-]\d\d:\d\d)$")


def schema() -> etree.RelaxNG:
    # The standard's "## text" after a value is meant as a comment; rnc2rng (which lxml uses
    # for the compact syntax) reads "##" only before a pattern, so it is read as "#".
    return etree.RelaxNG.from_rnc_string(SCHEMA_FILE.read_text().replace("##", "#"))


@dataclass
class Received:
    header: dict[str, bytes]
    xml: etree._Element

    def event_id(self) -> str:
        return str(self.xml.find("EventIdentification/EventID").get("csd-code"))


class Repository:
    """What the receivers took: every message checked; ``errors`` lists what was wrong."""

    def __init__(self) -> None:
        self.schema = schema()
        self.messages: list[Received] = []
        self.errors: list[str] = []
        self.arrived = threading.Condition()

    def take(self, message: bytes) -> None:
        match = HEADER.match(message)
        with self.arrived:
            if match is None:
                self.errors.append(f"no RFC 5424 header: {message[:80]!r}")
                return
            header = match.groupdict()
            body = message[match.end() :]
            if not TIMESTAMP.match(header["timestamp"].decode()):
                self.errors.append(f"timestamp {header['timestamp']!r}")
            if not body.startswith(b"\xef\xbb\xbf"):
                self.errors.append("MSG without the UTF-8 BOM")
            xml = etree.fromstring(body.removeprefix(b"\xef\xbb\xbf"))
            if not self.schema.validate(xml):
                self.errors.append(f"schema: {self.schema.error_log}: {body[:400]!r}")
            self.messages.append(Received(header, xml))
            self.arrived.notify_all()

    def wait_for(self, predicate: object, timeout: float = 20.0) -> list[Received]:
        with self.arrived:
            self.arrived.wait_for(lambda: any(predicate(m) for m in self.messages), timeout)  # type: ignore[operator]
            return [m for m in self.messages if predicate(m)]  # type: ignore[operator]


class UdpReceiver:
    def __init__(self, repository: Repository) -> None:
        self.repository = repository
        self.socket = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.socket.bind(("127.0.0.1", 0))
        self.port = self.socket.getsockname()[1]
        threading.Thread(target=self._run, daemon=True).start()

    def _run(self) -> None:
        while True:
            try:
                data = self.socket.recv(65535)
            except OSError:
                return
            self.repository.take(data)

    def close(self) -> None:
        self.socket.close()


class TlsReceiver:
    """RFC 5425: ``LENGTH SP MESSAGE`` frames on TLS connections; the client's certificate is
    asked for and checked when ``ca`` is given (mutual node authentication)."""

    def __init__(self, repository: Repository, cert: Path, key: Path, port: int = 0) -> None:
        self.repository = repository
        self.context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        self.context.load_cert_chain(cert, key)
        self.listener = socket.create_server(("127.0.0.1", port))
        self.port = self.listener.getsockname()[1]
        self.handshake_errors: list[str] = []
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self) -> None:
        while True:
            try:
                raw, _ = self.listener.accept()
            except OSError:
                return
            threading.Thread(target=self._serve, args=(raw,), daemon=True).start()

    def _serve(self, raw: socket.socket) -> None:
        try:
            conn = self.context.wrap_socket(raw, server_side=True)
        except (ssl.SSLError, OSError) as exc:
            self.handshake_errors.append(str(exc))
            raw.close()
            return
        stream = conn.makefile("rb")
        with conn, stream:
            while True:
                length = b""
                while (c := stream.read(1)) not in (b" ", b""):
                    length += c
                if not length:
                    return
                self.repository.take(stream.read(int(length)))

    def close(self) -> None:
        self.listener.close()


def certificate(folder: Path, name: str = "localhost") -> tuple[Path, Path, Path]:
    """A CA and a server certificate for ``name`` and 127.0.0.1 (openssl): (ca, cert, key)."""
    ca_key, ca, key, csr, cert = (
        folder / n for n in ("ca.key", "ca.pem", "s.key", "s.csr", "s.pem")
    )
    run = lambda *a: subprocess.run(["openssl", *a], check=True, capture_output=True)  # noqa: E731
    run(
        "req",
        "-x509",
        "-newkey",
        "rsa:2048",
        "-nodes",
        "-keyout",
        str(ca_key),
        "-out",
        str(ca),
        "-days",
        "2",
        "-subj",
        "/CN=Test Audit CA",
    )
    run(
        "req",
        "-newkey",
        "rsa:2048",
        "-nodes",
        "-keyout",
        str(key),
        "-out",
        str(csr),
        "-subj",
        f"/CN={name}",
    )
    ext = folder / "ext.cnf"
    ext.write_text(f"subjectAltName=DNS:{name},IP:127.0.0.1\n")
    run(
        "x509",
        "-req",
        "-in",
        str(csr),
        "-CA",
        str(ca),
        "-CAkey",
        str(ca_key),
        "-CAcreateserial",
        "-out",
        str(cert),
        "-days",
        "2",
        "-extfile",
        str(ext),
    )
    return ca, cert, key
