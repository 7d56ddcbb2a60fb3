"""The supervisor's live view end to end: a real core, a LiveFeed fed by numpy frames, a
viewer's WebSocket receiving JPEGs that decode; the feed idle while nobody watches; others
refused."""

from __future__ import annotations

import io
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import httpx
import numpy as np
import pytest
from PIL import Image
from websockets.exceptions import ConnectionClosed, InvalidStatus
from websockets.sync.client import connect

from capture_station.contract import Frame
from capture_station.live import LiveFeed
from core_server import auth
from tests.conftest import RunningCore

PASSWORD = "Head-password-2026"


def until(condition: Callable[[], bool], seconds: float = 15) -> None:
    deadline = time.monotonic() + seconds
    while not condition():
        assert time.monotonic() < deadline, "condition not met in time"
        time.sleep(0.02)


class Camera:
    """Frames as the video source gives them: a new picture each call, counted."""

    def __init__(self) -> None:
        self.calls = 0
        self._lock = threading.Lock()

    def __call__(self) -> Frame:
        with self._lock:
            self.calls += 1
            pixels = np.zeros((480, 640, 3), np.uint8)
            pixels[:, :, 0] = 200  # red: the decoded JPEG must still be red
            return Frame(pixels, time.monotonic(), self.calls)


@pytest.fixture(scope="module")
def core(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningCore]:
    running = RunningCore(Path(tmp_path_factory.mktemp("live")) / "data").start()
    engine = running.core.engine
    auth.create_user(engine, "wu.head", PASSWORD, "department_head", "吴主任")
    auth.create_user(engine, "ma.tech", PASSWORD, "technician", "马技师")
    try:
        yield running
    finally:
        running.stop()


def _key(core: RunningCore, name: str, kind: str = "capture") -> str:
    with core.api() as admin:
        answer = admin.post("/api/queueing/devices", json={"name": name, "kind": kind})
        assert answer.status_code == 201, answer.text
        return str(answer.json()["key"])


def _viewer_url(core: RunningCore, room: str) -> str:
    return core.base_url.replace("http://", "ws://") + f"/api/capture/live/rooms/{room}"


def test_frames_flow_only_while_watched(core: RunningCore) -> None:
    camera = Camera()
    feed = LiveFeed(core.base_url, _key(core, "WEIJING1"), camera, fps=5).start()
    try:
        until(lambda: feed.connected)
        with httpx.Client(base_url=core.base_url) as client:
            rooms = client.get(
                "/api/capture/live/rooms",
                headers={"Authorization": f"Bearer {core.token('wu.head', PASSWORD)}"},
            ).json()["rooms"]
        assert rooms == [{"room": "WEIJING1", "watched": False}]
        assert feed.sent == 0 and camera.calls == 0  # nobody watches: nothing taken or sent

        token = core.token("wu.head", PASSWORD)
        headers = {"Authorization": f"Bearer {token}"}
        with connect(_viewer_url(core, "WEIJING1"), additional_headers=headers) as viewer:
            arrived = []
            for _ in range(6):
                data = viewer.recv(timeout=15)
                assert isinstance(data, bytes)
                arrived.append(time.monotonic())
                image = Image.open(io.BytesIO(data))
                assert image.format == "JPEG" and image.size == (640, 480)
                red, green, _blue = image.convert("RGB").getpixel((320, 240))
                assert red > 180 and green < 30
            # At most 5 a second: five gaps of at least 0.2 s (less jitter of the clocks).
            assert arrived[-1] - arrived[0] >= 5 * 0.2 * 0.9
        until(lambda: not feed.watched)
        sent, calls = feed.sent, camera.calls
        time.sleep(1.0)  # no viewer: the feed stays idle
        assert (feed.sent, camera.calls) == (sent, calls)
    finally:
        feed.stop()
    assert not feed.connected


def test_only_supervisors_watch(core: RunningCore) -> None:
    headers = {"Authorization": f"Bearer {core.token('ma.tech', PASSWORD)}"}
    with pytest.raises(InvalidStatus) as refused:
        connect(_viewer_url(core, "WEIJING1"), additional_headers=headers).close()
    assert refused.value.response.status_code == 403
    with pytest.raises(InvalidStatus):
        connect(_viewer_url(core, "WEIJING1")).close()  # no credential at all


def test_a_kiosk_key_is_no_station(core: RunningCore) -> None:
    url = core.base_url.replace("http://", "ws://") + "/api/capture/live/station"
    headers = {"Authorization": f"Bearer {_key(core, 'KIOSK9', 'kiosk')}"}
    with connect(url, additional_headers=headers) as socket:
        with pytest.raises(ConnectionClosed):
            socket.recv(timeout=10)
        assert socket.close_code == 4403
