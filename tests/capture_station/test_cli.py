"""The capture-station command: options listed with their defaults, enrol, check (video
source, pedals, input devices seen, the core's C-ECHO), a bad option refused readably."""

from __future__ import annotations

from pathlib import Path

import pytest

from capture_station.__main__ import main
from tests.conftest import RunningCore


def test_options_list_every_setting(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["options"]) == 0
    out = capsys.readouterr().out
    for option in (
        "video_source",
        "pedal_keys",
        "burst_count",
        "timed_seconds",
        "clip_max_seconds",
        "jpeg_quality",
        "hospital_zone",
        "department",
    ):
        assert f"{option} (CAPTURE_STATION_{option.upper()}" in out


def test_check_with_testsrc_and_a_running_core(
    core: RunningCore, tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:  # fmt: skip
    core.register("CAPTURE1", port=11112)
    events = tmp_path / "pedal"
    events.write_bytes(b"")
    monkeypatch.setenv("CAPTURE_STATION_VIDEO_SOURCE", "testsrc:160x120@10")
    monkeypatch.setenv("CAPTURE_STATION_PEDAL", f'["events:{events}"]')
    monkeypatch.setenv("CAPTURE_STATION_CORE_PORT", str(core.dicom_port))
    monkeypatch.setenv("CAPTURE_STATION_CORE_AE_TITLE", core.ae_title)
    state = str(tmp_path / "state")
    assert main(["--state-dir", state, "check"]) == 1  # not enrolled yet
    assert "not enrolled" in capsys.readouterr().out
    assert main(["--state-dir", state, "enrol", "--core-url", core.base_url, "--key", "k1"]) == 0
    result = main(["--state-dir", state, "check"])
    out = capsys.readouterr().out
    assert "input devices seen" in out and "pedals: available" in out
    assert f"DICOM {core.ae_title}@" in out
    # The font may be missing on a bare machine; everything else is here.
    assert result == (0 if "MISSING" not in out else 1)
    assert "MISSING core" not in out and "MISSING test" not in out


def test_a_bad_option_is_refused(monkeypatch: pytest.MonkeyPatch, tmp_path: Path,
                                 capsys: pytest.CaptureFixture[str]) -> None:  # fmt: skip
    monkeypatch.setenv("CAPTURE_STATION_PEDAL_KEYS", '{"KEY_B": "explode"}')
    assert main(["--state-dir", str(tmp_path), "check"]) == 2
    assert "commands are" in capsys.readouterr().err


def test_check_takes_video_source_and_pedal_from_its_command_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    state = str(tmp_path / "state")
    missing = tmp_path / "no-such.mp4"
    fifo = tmp_path / "no-pedal"
    args = ["--state-dir", state, "check", "--video-source", str(missing)]
    assert main([*args, "--pedal", f"events:{fifo}"]) == 1
    out = capsys.readouterr().out
    # The file and the events FIFO named on the line are what is checked (the defaults would
    # be /dev/video0 and no pedal at all).
    assert "video file" in out and str(missing) in out and "/dev/video0" not in out
    assert f"events file or FIFO {fifo}" in out
    assert main(["--state-dir", state, "check", "--video-source", "testsrc"]) == 1
    out = capsys.readouterr().out
    assert "MISSING test pattern" not in out and "test pattern" in out
    assert "pedal events file" not in out
