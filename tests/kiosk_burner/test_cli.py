"""The kiosk-burner command: options, check (what is missing: screen, writer, reader,
core), enrol, and make-iso's refusals; the systemd unit."""

from __future__ import annotations

import json
import stat
from pathlib import Path

import pytest

from kiosk_burner.__main__ import main
from kiosk_burner.make_iso import MakeIsoError, pick_exam
from tests.kiosk_burner.test_app import EXAMS


def test_options_lists_every_setting(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["options"]) == 0
    out = capsys.readouterr().out
    for name in ("KIOSK_BURNER_WRITER", "KIOSK_BURNER_IDLE_SECONDS", "KIOSK_BURNER_BURN_ATTEMPTS"):
        assert name in out


def test_enrol_then_check_names_what_is_missing(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    state = str(tmp_path)
    assert main(["check", "--state-dir", state]) == 1
    out = capsys.readouterr().out
    assert "MISSING core driver needs enrolment (kiosk-burner enrol)" in out
    assert (
        main(["enrol", "--state-dir", state, "--core-url", "http://127.0.0.1:9", "--key", "k1"])
        == 0
    )
    record = tmp_path / "enrolment.json"
    assert stat.S_IMODE(record.stat().st_mode) == 0o600
    assert json.loads(record.read_text())["device_key"] == "k1"
    assert main(["check", "--state-dir", state]) == 1
    lines = capsys.readouterr().out.splitlines()
    core = next(line for line in lines if "core" in line.split(":")[0])
    assert core.startswith("MISSING") and "answer from the core" in core  # nothing on port 9
    assert any(line.startswith("ok      screen") for line in lines)
    assert len([line for line in lines if line.startswith(("ok", "MISSING"))]) == 4


def test_make_iso_needs_an_exam_and_an_output(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit):
        main(["make-iso", "--core-url", "http://x", "--key", "k", "out.iso"])
    assert pick_exam({"exams": EXAMS}, "A3", None) == 3
    with pytest.raises(MakeIsoError, match="may not be burned"):
        pick_exam({"exams": EXAMS}, "A2", None)
    with pytest.raises(MakeIsoError, match="no exam A9"):
        pick_exam({"exams": EXAMS}, "A9", None)
    assert (
        main(
            [
                "make-iso",
                "--core-url",
                "http://127.0.0.1:9",
                "--key",
                "k",
                "--accession",
                "A1",
                "o.iso",
            ]
        )
        == 1
    )
    assert "kiosk-burner make-iso:" in capsys.readouterr().err


def test_systemd_unit_runs_the_kiosk() -> None:
    unit = Path("systemd/kiosk-burner.service").read_text(encoding="utf-8")
    for line in (
        "Type=notify",
        "WatchdogSec=30",
        "ExecStart=/opt/imaging/.venv/bin/kiosk-burner run",
        "StateDirectory=kiosk-burner",
        "Environment=KIOSK_BURNER_STATE_DIR=/var/lib/kiosk-burner",
        "SupplementaryGroups=video render input dialout cdrom lp plugdev",
    ):
        assert line in unit
