"""The shared command line (enrol, check, options, run without a key) and systemd notify over
a real notification socket."""

from __future__ import annotations

import socket
import stat
from pathlib import Path

import pytest

from caller_terminal.__main__ import main as caller_main
from device_kit import enrolment
from device_kit.systemd import Notifier
from queue_display.__main__ import main as display_main
from ticket_printer.__main__ import main as printer_main


def test_enrol_stores_a_private_key(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    argv = [
        "--state-dir",
        str(tmp_path),
        "enrol",
        "--core-url",
        "http://core:8080/",
        "--key",
        "k-1",
    ]
    assert display_main(argv) == 0
    path = tmp_path / "enrolment.json"
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert enrolment.load(path, "queue-display") == enrolment.Enrolment(
        "http://core:8080", "k-1", ""
    )
    assert "mode 0600" in capsys.readouterr().out
    assert (
        display_main(["--state-dir", str(tmp_path), "enrol", "--core-url", "core", "--key", "k"])
        == 2
    )


def test_enrol_takes_a_key_that_begins_with_a_dash(tmp_path: Path) -> None:
    # The core's keys are base64url: one in 64 begins with "-".
    argv = ["--state-dir", str(tmp_path), "enrol", "--core-url", "http://core", "--key", "-k1"]
    assert caller_main(argv) == 0
    assert enrolment.load(tmp_path / "enrolment.json", "caller-terminal").device_key == "-k1"


def test_run_without_enrolment_says_how_to_enrol(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert caller_main(["--state-dir", str(tmp_path), "run"]) == 1
    assert "caller-terminal enrol --core-url" in capsys.readouterr().err


def test_check_names_what_the_configured_hardware_needs(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("CALLER_TERMINAL_INPUTS", '["touch", "evdev"]')
    monkeypatch.setenv("CALLER_TERMINAL_EVDEV_DEVICE", "/dev/input/by-id/usb-keypad-event-kbd")
    assert caller_main(["--state-dir", str(tmp_path), "check"]) == 1
    out = capsys.readouterr().out
    assert "ok      screen" in out
    assert "MISSING keypad driver needs Python package evdev and device /dev/input/" in out
    assert "missing: device /dev/input/by-id/usb-keypad-event-kbd (not present)" in out
    monkeypatch.setenv("TICKET_PRINTER_PRINTER", f"file:{tmp_path / 'lp0'}")
    monkeypatch.setenv("TICKET_PRINTER_SCANNER", "serial")
    monkeypatch.setenv("TICKET_PRINTER_SCANNER_DEVICE", "loop://")
    (tmp_path / "lp0").touch()
    assert printer_main(["--state-dir", str(tmp_path), "check"]) == 0


def test_bad_option_is_one_clear_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("TICKET_PRINTER_CHINESE", "utf8")
    assert printer_main(["--state-dir", str(tmp_path), "check"]) == 2
    assert "chinese" in capsys.readouterr().err
    assert printer_main(["options"]) == 0
    assert "TICKET_PRINTER_CHINESE" in capsys.readouterr().out


def test_notify_ready_status_and_watchdog(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = tmp_path / "notify.sock"
    with socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM) as listener:
        listener.bind(str(path))
        listener.settimeout(5)
        monkeypatch.setenv("NOTIFY_SOCKET", str(path))
        monkeypatch.setenv("WATCHDOG_USEC", "60000000")
        notifier = Notifier()
        assert notifier.active and notifier.interval == 30
        notifier.ready()
        notifier.status("online, screen 1F")
        notifier.status("online, screen 1F")  # unchanged: not sent again
        notifier.alive()
        notifier.alive()  # not due yet
        notifier.stopping()
        received = [listener.recv(1024).decode() for _ in range(4)]
        assert received == ["READY=1", "STATUS=online, screen 1F", "WATCHDOG=1", "STOPPING=1"]


@pytest.mark.parametrize(
    "argv",
    [
        ["--screenshot-dir", "{dir}", "run"],  # ignored before the fix
        ["run", "--screenshot-dir", "{dir}"],
        ["--screenshot-dir", "{dir}"],
    ],
)
def test_options_count_before_or_after_the_command(tmp_path: Path, argv: list[str]) -> None:
    from device_kit import cli
    from queue_display.__main__ import add_options, check
    from queue_display.settings import Settings

    seen: list[tuple[str | None, Path]] = []

    def run(settings: Settings, args: object) -> int:
        seen.append((getattr(args, "screenshot_dir", None), settings.state_dir))
        return 0

    shots = tmp_path / "shots"
    full = [a.format(dir=shots) for a in argv]
    assert cli.main(Settings, run, check, ["--state-dir", str(tmp_path), *full], add_options) == 0
    assert cli.main(Settings, run, check, [*full, "--state-dir", str(tmp_path)], add_options) == 0
    assert seen == [(str(shots), tmp_path)] * 2
