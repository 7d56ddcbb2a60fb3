"""The core link against real servers: a WebSocket server that goes away and comes back, and an
HTTP server that fails, then accepts the spooled actions (each with its idempotency key)."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import ClassVar

import pytest

from device_kit.client import CoreClient, CoreRefused, CoreUnreachable
from device_kit.enrolment import Enrolment
from device_kit.link import Answer, CoreLink, LinkEvent, Online, Pushed, Settled
from device_kit.spool import Outcome, Spool
from tests.conftest import RunningCore, free_port
from tests.device_kit.core_setup import enrol, setup_ct
from tests.device_kit.wsserver import PushServer

_backlog: dict[int, list[LinkEvent]] = {}


def wait_for(link: CoreLink, predicate, timeout: float = 20) -> list[LinkEvent]:  # type: ignore[no-untyped-def]
    """Events up to the first that satisfies ``predicate``; later ones stay for the next call.
    (The deadline only stops a hang; nothing here depends on timing.)"""
    backlog = _backlog.setdefault(id(link), [])
    seen: list[LinkEvent] = []
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        backlog.extend(link.events())
        while backlog:
            event = backlog.pop(0)
            seen.append(event)
            if predicate(event):
                return seen
        time.sleep(0.01)
    raise AssertionError(f"no matching event; saw {seen}")


@pytest.fixture
def push_server() -> Iterator[PushServer]:
    server = PushServer(free_port()).start()
    yield server
    server.close()


def test_websocket_reconnects_with_backoff_after_the_core_goes_away(
    tmp_path: Path, push_server: PushServer
) -> None:
    record = Enrolment(f"http://127.0.0.1:{push_server.port}", "key-1")
    link = CoreLink(CoreClient(record), None, "/api/ws", min_delay=0.05, max_delay=0.2).start()
    try:
        wait_for(link, lambda e: e == Online(True))
        wait_for(link, lambda e: isinstance(e, Pushed) and e.message["type"] == "hello")
        push_server.push({"seq": 2, "type": "ticket.called", "payload": {"number": "CT001"}})
        wait_for(link, lambda e: isinstance(e, Pushed) and e.message.get("seq") == 2)

        push_server.stop()  # the core goes away
        wait_for(link, lambda e: isinstance(e, Online) and not e.online)
        push_server.start()  # and comes back on the same port
        wait_for(link, lambda e: e == Online(True))
        wait_for(link, lambda e: isinstance(e, Pushed) and e.message["type"] == "hello")
        assert push_server.tokens == ["/api/ws Bearer key-1"] * 2
    finally:
        link.stop()


def test_a_refused_device_is_reported_as_refused(tmp_path: Path, push_server: PushServer) -> None:
    push_server.refuse = True
    record = Enrolment(f"http://127.0.0.1:{push_server.port}", "revoked")
    link = CoreLink(CoreClient(record), None, "/api/ws", min_delay=0.05, max_delay=0.2).start()
    try:
        wait_for(link, lambda e: e == Online(False, "refused"))
    finally:
        link.stop()


class Recorder(BaseHTTPRequestHandler):
    """Answers 503 while ``failing``, else 200 with the request echoed; remembers each POST."""

    failing: ClassVar[bool] = True
    received: ClassVar[list[tuple[str, str | None, dict]]] = []

    def do_POST(self) -> None:
        body = json.loads(self.rfile.read(int(self.headers["Content-Length"])) or b"{}")
        if type(self).failing:
            self._answer(503, {"detail": "starting"})
            return
        if self.path.endswith("/refuse"):
            self._answer(409, {"detail": {"code": "no_current_patient", "message": "当前没有患者"}})
            return
        type(self).received.append((self.path, self.headers.get("Idempotency-Key"), body))
        self._answer(200, {"seq": len(type(self).received)})

    def _answer(self, status: int, body: dict) -> None:
        data = json.dumps(body, ensure_ascii=False).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def log_message(self, *args: object) -> None:
        pass


def test_spooled_actions_wait_for_the_core_and_arrive_in_order_once(tmp_path: Path) -> None:
    Recorder.failing, Recorder.received = True, []
    http = ThreadingHTTPServer(("127.0.0.1", 0), Recorder)
    threading.Thread(target=http.serve_forever, daemon=True).start()
    record = Enrolment(f"http://127.0.0.1:{http.server_address[1]}", "key-1")
    spool = Spool(tmp_path / "spool.sqlite")
    link = CoreLink(CoreClient(record), spool, None, retry_interval=0.05).start()
    try:
        start = link.spool_action("start", "POST", "/rooms/CT1/start", {})
        refused = link.spool_action("recall", "POST", "/rooms/CT1/refuse", {})
        finish = link.spool_action("finish", "POST", "/rooms/CT1/finish", {"a": 1})
        while spool.pending()[0].attempts < 2:  # the core answers 503: kept, retried
            time.sleep(0.01)
        assert len(spool) == 3 and Recorder.received == []

        Recorder.failing = False
        seen = wait_for(link, lambda e: isinstance(e, Settled) and e.result.action == finish)
        settled = [e.result for e in seen if isinstance(e, Settled)]
        assert [(r.action.key, r.outcome) for r in settled] == [
            (start.key, Outcome.DONE),
            (refused.key, Outcome.REFUSED),
            (finish.key, Outcome.DONE),
        ]
        assert settled[1].answer["message"] == "当前没有患者"
        assert Recorder.received == [
            ("/rooms/CT1/start", start.key, {}),
            ("/rooms/CT1/finish", finish.key, {"a": 1}),
        ]
        assert len(spool) == 0

        link.submit("one-off", lambda client: client.request("POST", "/rooms/CT1/refuse", {}))
        answer = wait_for(link, lambda e: isinstance(e, Answer))[-1]
        assert isinstance(answer, Answer) and isinstance(answer.error, CoreRefused)
        assert answer.error.code == "no_current_patient"
    finally:
        link.stop()
        http.shutdown()


def test_unreachable_core_is_an_error_not_a_hang(tmp_path: Path) -> None:
    client = CoreClient(Enrolment(f"http://127.0.0.1:{free_port()}", "k"), timeout=2)
    with pytest.raises(CoreUnreachable):
        client.get("/api/queueing/devices/me")


def test_the_real_core_takes_the_key_from_the_authorization_header(
    core: RunningCore, tmp_path: Path
) -> None:
    """The link presents its key only in ``Authorization: Bearer`` (never ``?token=``, which
    lands in access logs): the core's /api/ws accepts it as this device, and refuses a key
    it does not know at the handshake."""
    admin = setup_ct(core)
    record = enrol(admin, tmp_path, "hall-screen", "screen", screen="1F")
    link = CoreLink(CoreClient(record), None, "/api/ws", min_delay=0.05, max_delay=0.2).start()
    try:
        wait_for(link, lambda e: e == Online(True))
        (*_, hello) = wait_for(
            link, lambda e: isinstance(e, Pushed) and e.message["type"] == "hello"
        )
        assert isinstance(hello, Pushed) and hello.message["role"] == "device"
    finally:
        link.stop()
    stranger = Enrolment(record.core_url, "not-a-key-the-core-issued", "stranger")
    link = CoreLink(CoreClient(stranger), None, "/api/ws", min_delay=0.05, max_delay=0.2).start()
    try:
        wait_for(link, lambda e: e == Online(False, "refused"))
    finally:
        link.stop()
