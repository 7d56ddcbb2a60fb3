"""Enrolment by code, the device's side: ask the core for a short code, show it (and a QR that
opens the core's admin page with it filled in), poll until an administrator confirms it, and
return the enrolment (key and the core's CA) to store. An expired code is replaced by a new
one; a core that refuses for too many codes is asked again later.

First contact over https with a core whose certificate no CA on the device vouches for (the
appliance's own CA, not yet pinned): the device takes the certificate the core presents, shows
its fingerprint beside the code (the administrator compares it with the one the admin page
shows) and speaks to exactly that certificate until enrolled; the CA that comes back is pinned
only if it signed that same certificate."""

from __future__ import annotations

import hashlib
import logging
import socket
import ssl
import time
from collections.abc import Callable
from dataclasses import dataclass

import httpx

from device_kit.enrolment import Enrolment

log = logging.getLogger(__name__)
# The core's device kinds (core_server.queueing.devices.KINDS) per device program.
KIND_OF_PROGRAM = {
    "queue-display": "screen",
    "caller-terminal": "caller",
    "ticket-printer": "printer",
    "kiosk-burner": "kiosk",
    "capture-station": "capture",
}
PATH = "/api/queueing/enrolment-codes"


class EnrolmentFailed(RuntimeError):
    pass


@dataclass(frozen=True)
class Code:
    code: str  # K7P-4QX, what the administrator types
    expires_at: str  # ISO 8601 with the hospital's offset
    qr: str  # what the QR holds: the admin page with the code filled in
    fingerprint: str = ""  # of the core's certificate met at first contact (https only)


@dataclass(frozen=True)
class FirstContact:
    """How to speak to the core until enrolled, and the certificate it presented."""

    verify: ssl.SSLContext | bool
    certificate: bytes = b""  # DER; empty for http
    trusted: bool = True  # False: no CA on the device vouched for it (pinned by sight)

    @property
    def fingerprint(self) -> str:
        return fingerprint(self.certificate) if self.certificate else ""


def fingerprint(der: bytes) -> str:
    """The first 128 bits of the certificate's SHA-256, as 8 groups of 4 hex digits: short
    enough to compare by eye, far too long to forge (the admin page shows the same)."""
    digest = hashlib.sha256(der).hexdigest().upper()[:32]
    return " ".join(digest[i : i + 4] for i in range(0, 32, 4))


def _address(core_url: str) -> tuple[str, int]:
    url = httpx.URL(core_url)
    return url.host, url.port or 443


def _handshake(core_url: str, context: ssl.SSLContext, timeout: float) -> bytes:
    host, port = _address(core_url)
    with (
        socket.create_connection((host, port), timeout=timeout) as raw,
        context.wrap_socket(raw, server_hostname=host) as tls,
    ):
        der = tls.getpeercert(binary_form=True)
    if not der:
        raise EnrolmentFailed(f"{core_url} presented no certificate")
    return der


def first_contact(core_url: str, timeout: float = 10.0) -> FirstContact:
    """http: nothing to check. https: the system's CAs if they vouch for the core (a hospital
    CA installed in the image), else the certificate presented, pinned by itself."""
    if not core_url.startswith("https://"):
        return FirstContact(True)
    system = ssl.create_default_context()
    try:
        return FirstContact(system, _handshake(core_url, system, timeout))
    except ssl.SSLCertVerificationError as error:
        log.warning("no CA on this device vouches for %s (%s): pinning by sight", core_url, error)
    pem = ssl.get_server_certificate(_address(core_url), timeout=timeout)
    pinned = ssl.create_default_context(cadata=pem)
    pinned.verify_flags |= ssl.VERIFY_X509_PARTIAL_CHAIN  # that certificate is the anchor
    pinned.check_hostname = False  # it is this exact certificate or nothing
    return FirstContact(pinned, ssl.PEM_cert_to_DER_cert(pem), trusted=False)


def check_ca(core_url: str, contact: FirstContact, ca_pem: str, timeout: float = 10.0) -> None:
    """Refuse a CA that did not sign the certificate met at first contact (a CA sent by a man
    in the middle, or a core whose certificate changed meanwhile): nothing is pinned."""
    if not contact.certificate:
        return
    if not ca_pem:
        if contact.trusted:
            return  # the system's CAs vouch for the core: nothing to pin
        raise EnrolmentFailed(
            f"{core_url} sent no CA to pin and no CA on this device vouches for it: "
            "install the hospital's CA on the device or set the core's tls_ca"
        )
    context = ssl.create_default_context(cadata=ca_pem)
    context.check_hostname = contact.trusted  # by sight: the certificate is compared below
    try:
        met = _handshake(core_url, context, timeout)
    except ssl.SSLCertVerificationError as error:
        raise EnrolmentFailed(f"the CA {core_url} sent does not vouch for it: {error}") from None
    if met != contact.certificate:
        raise EnrolmentFailed(
            f"{core_url} now presents another certificate ({fingerprint(met)}) than at first "
            f"contact ({contact.fingerprint}): not pinned"
        )


def ask(
    http: httpx.Client, core_url: str, kind: str, name: str, hostname: str, seen: str = ""
) -> tuple[Code, str]:
    """A new code and the poll path (its secret); ``seen``: the certificate's fingerprint."""
    answer = http.post(PATH, json={"kind": kind, "name": name, "hostname": hostname})
    if answer.status_code == 429:
        raise TooSoon(answer.json()["detail"]["message"])
    _check(answer)
    body = answer.json()
    qr = f"{core_url}/queueing/admin?enrol={body['code']}"
    return Code(body["code"], body["expires_at"], qr, seen), body["poll"]


class TooSoon(EnrolmentFailed):
    pass


def _check(answer: httpx.Response) -> None:
    if answer.status_code >= 400:
        try:
            message = answer.json()["detail"]["message"]
        except (ValueError, KeyError, TypeError):
            message = answer.text[:200]
        raise EnrolmentFailed(f"the core refused ({answer.status_code}): {message}")


def by_code(
    core_url: str,
    program: str,
    show: Callable[[Code], None],
    *,
    name: str = "",
    interval: float = 3.0,
    alive: Callable[[], None] = lambda: None,
    sleep: Callable[[float], None] = time.sleep,
    transport: httpx.BaseTransport | None = None,
) -> Enrolment:
    """Until enrolled: ``show`` each code, ``alive`` each poll (the systemd watchdog)."""
    core_url = core_url.rstrip("/")
    kind = KIND_OF_PROGRAM[program]
    hostname = socket.gethostname()
    contact = _first_contact(core_url, sleep, interval, alive)
    with httpx.Client(
        base_url=core_url, timeout=10.0, transport=transport, verify=contact.verify
    ) as http:
        while True:
            try:
                code, poll = ask(http, core_url, kind, name, hostname, contact.fingerprint)
            except TooSoon as refusal:
                log.warning("%s", refusal)
                sleep(interval * 20)
                continue
            show(code)
            enrolled = _wait(http, poll, alive, sleep, interval)
            if enrolled is not None:
                check_ca(core_url, contact, enrolled["ca_pem"])
                return Enrolment(
                    core_url, enrolled["key"], enrolled["device_name"], enrolled["ca_pem"]
                )
            log.info("enrolment code %s expired: asking for a new one", code.code)


def _first_contact(
    core_url: str, sleep: Callable[[float], None], interval: float, alive: Callable[[], None]
) -> FirstContact:
    """Until the core answers (a device may boot before the core)."""
    while True:
        try:
            return first_contact(core_url)
        except OSError as error:  # refused, unreachable, a handshake cut short
            log.warning("cannot reach %s yet: %s", core_url, error)
            alive()
            sleep(interval)


def _wait(
    http: httpx.Client,
    poll: str,
    alive: Callable[[], None],
    sleep: Callable[[float], None],
    interval: float,
) -> dict[str, str] | None:
    """The enrolment once confirmed, None once the code expired or was refused."""
    while True:
        alive()
        try:
            answer = http.get(poll)
        except httpx.TransportError as error:  # the core restarting: keep the code
            log.warning("enrolment poll failed: %s", error)
            sleep(interval)
            continue
        if answer.status_code == 410:
            return None
        if answer.status_code == 404:  # refused by the administrator (or the key got lost)
            log.warning("enrolment code refused or spent: asking for a new one")
            sleep(interval * 10)
            return None
        _check(answer)
        body = answer.json()
        if body["state"] == "enrolled":
            return {k: str(body[k]) for k in ("key", "device_name", "ca_pem")}
        sleep(interval)
