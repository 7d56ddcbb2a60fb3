"""STOW-RS of one batch (one study) in one ``multipart/related; type="application/dicom"``
request (PS3.18 10.5), with httpx: bearer or basic authentication, the destination's CA file
to check its certificate (the system's CAs without one).

The answer's Failed SOP Sequence (0008,1198) marks single objects failed; a 4xx answer that
names none fails every object for good except 401/403/408/429 (credentials being fixed, a busy
server), a 5xx or a broken connection fails them to be tried again.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from typing import Any

import httpx

from core_server.archive import InstanceFile
from core_server.storage.forwarding.config import Destination
from core_server.storage.forwarding.delivery import Delivery

TIMEOUT = httpx.Timeout(60.0, connect=10.0)
_RETRYABLE_4XX = {401, 403, 408, 429}
FAILED_SOP_SEQUENCE = "00081198"
REFERENCED_SOP_INSTANCE = "00081155"
FAILURE_REASON = "00081197"


def _client(d: Destination) -> httpx.Client:
    auth: httpx.Auth | None = None
    headers = {"Accept": "application/dicom+json"}
    if d.auth == "bearer":
        headers["Authorization"] = f"Bearer {d.token}"
    elif d.auth == "basic":
        auth = httpx.BasicAuth(d.username, d.password)
    verify: Any = d.ca_file or True
    return httpx.Client(auth=auth, headers=headers, verify=verify, timeout=TIMEOUT)


def _body(files: list[InstanceFile], boundary: str) -> Iterator[bytes]:
    """The multipart body, one file at a time (never the whole study in memory)."""
    for f in files:
        yield f"--{boundary}\r\nContent-Type: application/dicom\r\n\r\n".encode()
        with open(f.path, "rb") as data:
            while chunk := data.read(1 << 20):
                yield chunk
        yield b"\r\n"
    yield f"--{boundary}--\r\n".encode()


def send(d: Destination, files: list[InstanceFile]) -> Delivery:
    boundary = uuid.uuid4().hex
    content_type = f'multipart/related; type="application/dicom"; boundary={boundary}'
    delivery = Delivery()
    with _client(d) as client:
        try:
            answer = client.post(
                d.url, content=_body(files, boundary), headers={"Content-Type": content_type}
            )
        except httpx.HTTPError as exc:
            delivery.error = f"{type(exc).__name__}: {exc}"
            return delivery
    failed = _failed(answer)
    uids = [f.sop_instance_uid for f in files]
    if answer.status_code in (200, 202) or (failed and answer.status_code == 409):
        for uid in uids:
            if uid in failed:
                delivery.failed[uid] = (failed[uid], False)
            else:
                delivery.sent.add(uid)
        return delivery
    why = f"HTTP {answer.status_code} {answer.reason_phrase}: {answer.text[:300]}".strip()
    final = 400 <= answer.status_code < 500 and answer.status_code not in _RETRYABLE_4XX
    for uid in uids:
        delivery.failed[uid] = (why, final)
    return delivery


def _failed(answer: httpx.Response) -> dict[str, str]:
    """SOP Instance UID -> why, from the answer's Failed SOP Sequence (DICOM JSON)."""
    try:
        body = answer.json()
    except ValueError:
        return {}
    if not isinstance(body, dict):
        return {}
    found: dict[str, str] = {}
    for item in (body.get(FAILED_SOP_SEQUENCE) or {}).get("Value") or []:
        uid = ((item.get(REFERENCED_SOP_INSTANCE) or {}).get("Value") or [""])[0]
        reason = ((item.get(FAILURE_REASON) or {}).get("Value") or [0])[0]
        if uid:
            found[str(uid)] = f"STOW-RS failure reason 0x{int(reason):04X}"
    return found


def probe(d: Destination) -> str | None:
    """A STOW-RS request holding no object: the server checks the credentials and the path,
    then refuses the empty request (400 or 409, or 200 with nothing stored): None for that,
    else what went wrong (refused credentials, no such path, a server error, no answer)."""
    boundary = uuid.uuid4().hex
    content_type = f'multipart/related; type="application/dicom"; boundary={boundary}'
    with _client(d) as client:
        try:
            answer = client.post(
                d.url, content=f"--{boundary}--\r\n", headers={"Content-Type": content_type}
            )
        except httpx.HTTPError as exc:
            return f"{type(exc).__name__}: {exc}"
    if answer.status_code in (200, 202, 204, 400, 409, 415):
        return None
    return f"HTTP {answer.status_code} {answer.reason_phrase}"
