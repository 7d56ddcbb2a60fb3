"""The core tells systemd READY=1 once its listeners run and then pings WATCHDOG=1, only while
all of them run: `core-server serve` under a NOTIFY_SOCKET the test binds, and the rule itself
on stand-in listeners."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from core_server.watchdog import Watchdog
from tests.conftest import ADMIN_PASSWORD, free_port


@pytest.fixture
def notify_socket(tmp_path: Path) -> Iterator[tuple[socket.socket, str]]:
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    path = str(tmp_path / "notify")
    sock.bind(path)
    sock.settimeout(60)  # a guard against a core that never says anything, not a measure
    yield sock, path
    sock.close()


def messages(sock: socket.socket) -> Iterator[str]:
    while True:
        yield from sock.recv(4096).decode().splitlines()


def test_serve_says_ready_then_pings(
    tmp_path: Path, notify_socket: tuple[socket.socket, str]
) -> None:
    sock, path = notify_socket
    env = {
        **os.environ,
        "NOTIFY_SOCKET": path,
        "WATCHDOG_USEC": "400000",
        "CORE_DATA_DIR": str(tmp_path / "data"),
        "CORE_HOST": "127.0.0.1",
        "CORE_HTTP_PORT": str(free_port()),
        "CORE_DICOM_PORT": str(free_port()),
        "CORE_HL7_PORT": str(free_port()),
        "CORE_ADMIN_PASSWORD": ADMIN_PASSWORD,
    }
    env.pop("WATCHDOG_PID", None)
    core = subprocess.Popen(
        [sys.executable, "-m", "core_server", "serve"],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    try:
        seen: list[str] = []
        for line in messages(sock):
            seen.append(line)
            if line == "WATCHDOG=1":
                break
        assert seen.index("READY=1") < seen.index("WATCHDOG=1")
        status = next(s for s in seen if s.startswith("STATUS=listening"))
        assert {"http", "dicom", "hl7"} <= set(status.split(": ")[1].split(", "))
    finally:
        core.terminate()
        core.wait(timeout=60)
    rest = list(_drain(sock))
    assert "STOPPING=1" in rest, rest


def _drain(sock: socket.socket) -> Iterator[str]:
    sock.settimeout(0)
    try:
        yield from messages(sock)
    except BlockingIOError:
        return


def test_pings_only_while_every_listener_runs(notify_socket: tuple[socket.socket, str]) -> None:
    sock, path = notify_socket
    up = {"http": True, "dicom": False, "hl7": True}
    listeners = {name: (lambda name=name: up[name]) for name in up}
    watchdog = Watchdog(listeners, {"NOTIFY_SOCKET": path, "WATCHDOG_USEC": "2000000"})
    got = messages(sock)

    watchdog.run_once()  # DICOM not up yet: not ready
    assert next(got) == "STATUS=not running: dicom" and not watchdog.ready
    up["dicom"] = True
    watchdog.run_once()
    assert [next(got), next(got)] == ["READY=1", "STATUS=listening: http, dicom, hl7"]
    watchdog.run_once()
    assert next(got) == "WATCHDOG=1"
    up["hl7"] = False  # the MLLP listener died: no more pings, systemd will restart the core
    watchdog.run_once()
    watchdog.run_once()
    assert next(got) == "STATUS=not running: hl7"
    up["hl7"] = True
    watchdog.run_once()
    assert [next(got), next(got)] == ["STATUS=listening: http, dicom, hl7", "WATCHDOG=1"]
    assert list(_drain(sock)) == []


def test_silent_without_systemd() -> None:
    watchdog = Watchdog({"http": lambda: True}, {})
    watchdog.start()  # no NOTIFY_SOCKET: no thread, nothing sent
    assert not watchdog.active and not watchdog._ticker.running
    watchdog.stop()
