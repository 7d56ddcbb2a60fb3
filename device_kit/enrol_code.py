"""Enrolment by code, the device's side: ask the core for a short code, show it (and a QR that
opens the core's admin page with it filled in), poll until an administrator confirms it, and
return the enrolment (key and the core's CA) to store. An expired code is replaced by a new
one; a core that refuses for too many codes is asked again later."""

from __future__ import annotations

import logging
import socket
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


def ask(http: httpx.Client, core_url: str, kind: str, name: str, hostname: str) -> tuple[Code, str]:
    """A new code and the poll path (its secret)."""
    answer = http.post(PATH, json={"kind": kind, "name": name, "hostname": hostname})
    if answer.status_code == 429:
        raise TooSoon(answer.json()["detail"]["message"])
    _check(answer)
    body = answer.json()
    qr = f"{core_url}/queueing/admin?enrol={body['code']}"
    return Code(body["code"], body["expires_at"], qr), body["poll"]


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
    with httpx.Client(base_url=core_url, timeout=10.0, transport=transport) as http:
        while True:
            try:
                code, poll = ask(http, core_url, kind, name, hostname)
            except TooSoon as refusal:
                log.warning("%s", refusal)
                sleep(interval * 20)
                continue
            show(code)
            enrolled = _wait(http, poll, alive, sleep, interval)
            if enrolled is not None:
                return Enrolment(
                    core_url, enrolled["key"], enrolled["device_name"], enrolled["ca_pem"]
                )
            log.info("enrolment code %s expired: asking for a new one", code.code)


def _wait(
    http: httpx.Client,
    poll: str,
    alive: Callable[[], None],
    sleep: Callable[[float], None],
    interval: float,
) -> dict[str, str] | None:
    """The enrolment once confirmed, None once the code expired."""
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
        _check(answer)
        body = answer.json()
        if body["state"] == "enrolled":
            return {k: str(body[k]) for k in ("key", "device_name", "ca_pem")}
        sleep(interval)
