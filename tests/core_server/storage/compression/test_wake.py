"""Stored objects wake the compression worker at most once every WAKE_GAP seconds (a round per
object read the rules and scanned them: a tenth of the CPU of a modality's burst)."""

from __future__ import annotations

from pathlib import Path
from types import SimpleNamespace

import pytest

from core_server import db
from core_server.archive.storage import StorageArea
from core_server.storage.compression import service
from core_server.storage.compression.service import Compression


def test_a_burst_of_stored_objects_wakes_the_worker_once_a_gap(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    engine = db.make_engine(f"sqlite:///{tmp_path / 'core.db'}")
    compression = Compression(engine, StorageArea(tmp_path / "storage"))
    wakes: list[float] = []
    monkeypatch.setattr(compression.worker, "wake", lambda: wakes.append(now[0]))
    now = [1000.0]
    monkeypatch.setattr(service, "time", SimpleNamespace(monotonic=lambda: now[0]))
    for _ in range(50):  # a burst within one gap: one wake-up
        compression.on_stored("archive.instance_stored", {})
        now[0] += service.WAKE_GAP / 100
    assert wakes == [1000.0]
    now[0] = 1000.0 + service.WAKE_GAP  # a gap later: the next object wakes it again
    compression.on_stored("archive.instance_stored", {})
    assert len(wakes) == 2
