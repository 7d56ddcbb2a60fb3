"""The appliance CA and its server certificate (``core-server tls init|show|renew``).

RSA 3072 for both, not ECDSA P-256: the modalities on a hospital network include TLS stacks
from the 2000s (Windows XP/7 consoles, old Java and OpenSSL builds) that know RSA key
exchange and RSA signatures but no ECDSA certificate; 3072 bits is the size recommended past
2030 (NIST SP 800-57), and its cost is paid once per handshake, not per image.
"""

from __future__ import annotations

import ipaddress
import os
import socket
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

from core_server import clock

KEY_BITS = 3072
CA_DAYS = 3650
SERVER_DAYS = 397  # what browsers accept for a server certificate at most
CA_CERT, CA_KEY = "ca.pem", "ca.key"
SERVER_CERT, SERVER_KEY = "server.pem", "server.key"


class TlsError(RuntimeError):
    """A certificate or key that cannot be made, read or used: said to the administrator."""


@dataclass(frozen=True)
class Files:
    """Where the server's certificate, key and CA are (the settings), and the appliance CA's
    key when it is ours (``<folder>/ca.key``)."""

    cert: Path
    key: Path
    ca: Path

    @property
    def ca_key(self) -> Path:
        return self.ca.with_name(CA_KEY)

    @property
    def ours(self) -> bool:
        """True when the appliance CA made the server certificate (so it may renew it)."""
        return self.ca_key.is_file() and self.ca.is_file()

    def present(self) -> bool:
        return self.cert.is_file() and self.key.is_file()


@dataclass(frozen=True)
class Summary:
    subject: str
    issuer: str
    not_before: datetime
    not_after: datetime
    names: list[str]
    fingerprint: str  # SHA-256, hex

    def lines(self) -> list[str]:
        return [
            f"subject: {self.subject}",
            f"issuer: {self.issuer}",
            f"valid: {clock.iso(self.not_before)} .. {clock.iso(self.not_after)}",
            f"names: {', '.join(self.names) or '-'}",
            f"sha256: {self.fingerprint}",
        ]


def default_names() -> list[str]:
    """The machine's host name, its fully qualified name, localhost and the loopback."""
    names = [socket.gethostname(), socket.getfqdn(), "localhost", "127.0.0.1"]
    return list(dict.fromkeys(n for n in names if n))


def init(files: Files, names: list[str], *, hospital: str = "", force: bool = False) -> None:
    """Create the appliance CA (unless it exists) and a server certificate for ``names``."""
    if files.present() and not force:
        raise TlsError(f"{files.cert} exists: use `tls renew` or `tls init --force`")
    files.ca.parent.mkdir(parents=True, exist_ok=True)
    if not files.ours:
        key = _new_key()
        _write_key(files.ca_key, key)
        _write(files.ca, _ca_certificate(key, hospital).public_bytes(serialization.Encoding.PEM))
    issue(files, names)


def issue(
    files: Files, names: list[str], days: int = SERVER_DAYS, *, start: datetime | None = None
) -> None:
    """A new server key and certificate signed by the appliance CA, valid ``days`` from
    ``start`` (default now)."""
    if not files.ours:
        raise TlsError(
            f"{files.cert} is not from the appliance CA ({files.ca_key} missing): renew it with"
            " the CA that issued it"
        )
    ca_key = serialization.load_pem_private_key(files.ca_key.read_bytes(), None)
    assert isinstance(ca_key, rsa.RSAPrivateKey)
    ca = x509.load_pem_x509_certificate(files.ca.read_bytes())
    key = _new_key()
    now = start or clock.now()
    alt: list[x509.GeneralName] = [_general_name(n) for n in names]
    cert = (
        x509.CertificateBuilder()
        .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, names[0])]))
        .issuer_name(ca.subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - timedelta(minutes=5))
        .not_valid_after(now + timedelta(days=days))
        .add_extension(x509.SubjectAlternativeName(alt), critical=False)
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(
            x509.ExtendedKeyUsage(
                [ExtendedKeyUsageOID.SERVER_AUTH, ExtendedKeyUsageOID.CLIENT_AUTH]
            ),
            critical=False,
        )
        .add_extension(
            x509.AuthorityKeyIdentifier.from_issuer_public_key(ca_key.public_key()), critical=False
        )
        .sign(ca_key, hashes.SHA256())
    )
    _write_key(files.key, key)
    # The chain: server certificate, then the CA (clients that lack it still see the path).
    pem = cert.public_bytes(serialization.Encoding.PEM)
    _write(files.cert, pem + ca.public_bytes(serialization.Encoding.PEM))


def names_of(path: Path) -> list[str]:
    return summary(path).names


def summary(path: Path) -> Summary:
    try:
        cert = x509.load_pem_x509_certificate(path.read_bytes())
    except (OSError, ValueError) as exc:
        raise TlsError(f"{path}: not a readable PEM certificate ({exc})") from exc
    try:
        alt = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
        names = [str(v) for v in alt.get_values_for_type(x509.DNSName)]
        names += [str(v) for v in alt.get_values_for_type(x509.IPAddress)]
    except x509.ExtensionNotFound:
        names = []
    return Summary(
        subject=cert.subject.rfc4514_string(),
        issuer=cert.issuer.rfc4514_string(),
        not_before=cert.not_valid_before_utc,
        not_after=cert.not_valid_after_utc,
        names=names,
        fingerprint=cert.fingerprint(hashes.SHA256()).hex(),
    )


def due(files: Files, within: timedelta, now: datetime | None = None) -> bool:
    """True when the server certificate expires within ``within`` (or is already expired)."""
    return summary(files.cert).not_after - (now or clock.now()) <= within


def renew(files: Files, names: list[str] | None = None) -> None:
    """A new certificate for the same names (or the given ones) from the appliance CA."""
    issue(files, names or names_of(files.cert))


def _new_key() -> rsa.RSAPrivateKey:
    return rsa.generate_private_key(public_exponent=65537, key_size=KEY_BITS)


def _ca_certificate(key: rsa.RSAPrivateKey, hospital: str) -> x509.Certificate:
    name = x509.Name(
        [
            x509.NameAttribute(NameOID.ORGANIZATION_NAME, hospital or "Imaging appliance"),
            x509.NameAttribute(NameOID.COMMON_NAME, f"Imaging appliance CA {socket.gethostname()}"),
        ]
    )
    now = clock.now()
    return (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - timedelta(minutes=5))
        .not_valid_after(now + timedelta(days=CA_DAYS))
        .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
        .add_extension(
            x509.KeyUsage(
                digital_signature=False,
                content_commitment=False,
                key_encipherment=False,
                data_encipherment=False,
                key_agreement=False,
                key_cert_sign=True,
                crl_sign=True,
                encipher_only=False,
                decipher_only=False,
            ),
            critical=True,
        )
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False)
        .sign(key, hashes.SHA256())
    )


def _general_name(name: str) -> x509.GeneralName:
    try:
        return x509.IPAddress(ipaddress.ip_address(name))
    except ValueError:
        return x509.DNSName(name)


def _write_key(path: Path, key: rsa.RSAPrivateKey) -> None:
    pem = key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )
    _write(path, pem, 0o600)


def _write(path: Path, data: bytes, mode: int = 0o644) -> None:
    """Written to a temporary name with its mode from the start, fsynced, renamed."""
    path.parent.mkdir(parents=True, exist_ok=True)
    temporary = path.with_name(path.name + ".tmp")
    fd = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, mode)
    try:
        os.write(fd, data)
        os.fchmod(fd, mode)
        os.fsync(fd)
    finally:
        os.close(fd)
    os.replace(temporary, path)
