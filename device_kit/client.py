"""The core server's REST client for a device: bearer device key, clear errors, and the
mapping of answers onto spool outcomes (2xx done, 4xx refused for good, anything else retry)."""

from __future__ import annotations

import logging
import ssl
from typing import Any

import httpx

from device_kit.enrolment import Enrolment
from device_kit.spool import Action, Outcome, Result

log = logging.getLogger(__name__)


class CoreUnreachable(ConnectionError):
    """No answer, or a server-side failure (5xx): try again later."""


class CoreUntrusted(CoreUnreachable):
    """The core's certificate is not signed by the CA pinned at enrolment (or has expired, or
    names another host): nothing is sent; the administrator enrols the device again. Retried
    like an outage (the core may be given its right certificate back), never in clear text."""


def tls_context(enrolment: Enrolment) -> ssl.SSLContext | None:
    """For an https core: its certificate checked against the pinned CA (else the system's
    trusted CAs, for a hospital CA installed on the device); None for http."""
    if not enrolment.core_url.startswith("https://"):
        return None
    if enrolment.ca_pem:
        context = ssl.create_default_context(cadata=enrolment.ca_pem)
    else:
        context = ssl.create_default_context()
    context.minimum_version = ssl.TLSVersion.TLSv1_2
    return context


def untrusted(error: BaseException) -> bool:
    """True when ``error`` (or what caused it) is a failed certificate check."""
    seen: BaseException | None = error
    while seen is not None:
        if isinstance(seen, ssl.SSLCertVerificationError):
            return True
        seen = seen.__cause__ or seen.__context__
    return False


class CoreRefused(RuntimeError):
    """The core answered no (4xx). The queue service's refusals carry a stable ``code`` the
    program acts on and a ``message`` in the device's language (the client asks for it with
    ``Accept-Language``; docs/queue-api.md section 2), shown on screen as written."""

    def __init__(self, status: int, code: str, message: str, body: Any = None) -> None:
        super().__init__(f"{status} {code}: {message}")
        self.status = status
        self.code = code
        self.message = message
        self.body = body

    def as_dict(self) -> dict[str, Any]:
        return {"status": self.status, "code": self.code, "message": self.message}


class CoreClient:
    def __init__(self, enrolment: Enrolment, timeout: float = 10.0, language: str = "zh") -> None:
        self.enrolment = enrolment
        context = tls_context(enrolment)
        self._http = httpx.Client(
            verify=context if context is not None else True,
            base_url=enrolment.core_url,
            headers={
                "Authorization": f"Bearer {enrolment.device_key}",
                # The core's refusals and notices come in the screen's language.
                "Accept-Language": language,
            },
            timeout=timeout,
        )

    def close(self) -> None:
        self._http.close()

    def request(
        self,
        method: str,
        path: str,
        body: dict[str, Any] | None = None,
        idempotency_key: str | None = None,
    ) -> Any:
        headers = {"Idempotency-Key": idempotency_key} if idempotency_key else {}
        try:
            answer = self._http.request(method, path, json=body, headers=headers)
        except httpx.TransportError as error:
            raise _unreachable(f"{method} {path}", error) from error
        if answer.status_code >= 500:
            raise CoreUnreachable(f"{method} {path}: {answer.status_code} {answer.text[:200]}")
        if answer.status_code >= 400:
            raise _refusal(answer)
        return _json(answer)

    def get(self, path: str) -> Any:
        return self.request("GET", path)

    def get_bytes(self, path: str) -> bytes:
        """A binary resource (the hospital logo)."""
        try:
            answer = self._http.get(path)
        except httpx.TransportError as error:
            raise _unreachable(f"GET {path}", error) from error
        if answer.status_code >= 500:
            raise CoreUnreachable(f"GET {path}: {answer.status_code}")
        if answer.status_code >= 400:
            raise _refusal(answer)
        return answer.content

    def send(self, action: Action) -> Result:
        """Send one spooled action with its idempotency key."""
        try:
            answer = self.request(action.method, action.path, action.body, action.key)
        except CoreRefused as refusal:
            log.warning("core refused %s %s: %s", action.kind, action.path, refusal)
            return Result(action, Outcome.REFUSED, refusal.as_dict())
        except CoreUnreachable as error:
            log.info("core unreachable for %s: %s", action.kind, error)
            return Result(action, Outcome.RETRY, str(error))
        return Result(action, Outcome.DONE, answer)


def _unreachable(what: str, error: BaseException) -> CoreUnreachable:
    if untrusted(error):
        log.error(
            "the core at %s has an untrusted TLS certificate (%s): enrol this device again",
            what,
            error,
        )
        return CoreUntrusted(f"{what}: the core's certificate is not trusted: {error}")
    return CoreUnreachable(f"{what}: {error!r}")


def _json(answer: httpx.Response) -> Any:
    try:
        return answer.json()
    except ValueError:
        return None


def _refusal(answer: httpx.Response) -> CoreRefused:
    """``{"detail": {"code", "message", ...}}`` from the core; FastAPI's own errors carry a
    string or a list of validation errors in ``detail``."""
    body = _json(answer)
    detail = body.get("detail") if isinstance(body, dict) else None
    if isinstance(detail, dict) and "code" in detail:
        code = str(detail["code"])
        return CoreRefused(answer.status_code, code, str(detail.get("message") or code), body)
    if isinstance(detail, list):
        text = "; ".join(str(d.get("msg", d)) for d in detail if isinstance(d, dict))
    elif isinstance(detail, str):
        text = detail
    else:
        text = answer.text[:200] or f"HTTP {answer.status_code}"
    code = {401: "not_authenticated", 403: "forbidden", 404: "not_found"}.get(
        answer.status_code, "invalid"
    )
    return CoreRefused(answer.status_code, code, text, body)
