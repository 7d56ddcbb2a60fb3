from __future__ import annotations

import stat
from pathlib import Path

import pytest

from device_kit import enrolment


def test_key_file_is_private_and_round_trips(tmp_path: Path) -> None:
    path = tmp_path / "state" / "enrolment.json"
    record = enrolment.Enrolment("http://core:8080", "s3cret-key", "ct1-caller")
    enrolment.save(path, record)
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert enrolment.load(path, "caller-terminal") == record
    assert record.websocket_url == "ws://core:8080"
    assert enrolment.Enrolment("https://core/", "k").websocket_url == "wss://core"


def test_missing_or_readable_key_is_a_clear_refusal(tmp_path: Path) -> None:
    path = tmp_path / "enrolment.json"
    with pytest.raises(enrolment.NotEnrolled, match="queue-display enrol --core-url"):
        enrolment.load(path, "queue-display")
    enrolment.save(path, enrolment.Enrolment("http://core", "k"))
    path.chmod(0o644)
    with pytest.raises(enrolment.NotEnrolled, match="chmod 600"):
        enrolment.load(path, "queue-display")


def test_bad_values_are_refused() -> None:
    with pytest.raises(ValueError, match="http"):
        enrolment.Enrolment("core:8080", "k")
    with pytest.raises(ValueError, match="empty"):
        enrolment.Enrolment("http://core", " ")
