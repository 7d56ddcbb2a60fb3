"""The lifecycle's metrics on ``/metrics`` of a running core (SQLite and PostgreSQL), after
real work: a study moved to a second area and recalled (objects counted by outcome, one
recall's duration), a storage rule's tasks (counted by state when scraped), a compression
job done (counted by status, bytes saved)."""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path

import httpx
from pydicom.uid import JPEGLSLossless

from core_server.archive import copies
from core_server.storage.compression import codecs
from tests.conftest import RunningCore
from tests.core_server.monitoring.test_metrics import TOKEN, value
from tests.core_server.storage.tiers.conftest import store_study

Samples = dict[tuple[str, tuple[tuple[str, str], ...]], float]


def _scrape(core: RunningCore) -> Samples:
    from prometheus_client.parser import text_string_to_metric_families

    answer = httpx.get(core.base_url + "/metrics", headers={"Authorization": f"Bearer {TOKEN}"})
    assert answer.status_code == 200, answer.text
    return {
        (s.name, tuple(sorted(s.labels.items()))): s.value
        for family in text_string_to_metric_families(answer.text)
        for s in family.samples
    }


def _until(core: RunningCore, done: Callable[[Samples], bool]) -> Samples:
    deadline = time.monotonic() + 60
    while True:
        samples = _scrape(core)
        if done(samples) or time.monotonic() > deadline:
            return samples
        time.sleep(0.2)


def test_lifecycle_metrics(tmp_path: Path, database_url: str) -> None:
    core = RunningCore(tmp_path / "data", database_url, metrics_token=TOKEN).start()
    try:
        _check(core, tmp_path)
    finally:
        core.stop()


def _check(core: RunningCore, tmp_path: Path) -> None:
    archive = core.core.archive
    before = _scrape(core)
    assert ("pacs_storage_rule_tasks", (("state", "dead"),)) in before
    assert ("pacs_compression_jobs", (("status", "pending"),)) in before
    study, objects = store_study(archive, 3)
    (tmp_path / "nas").mkdir()
    with core.api() as client:
        area = {"name": "nas", "kind": "filesystem", "location": str(tmp_path / "nas")}
        assert client.post("/api/storage/areas", json=area).status_code == 201
        for uid in objects:
            copies.copy_to(archive.engine, archive.areas, uid, "nas")
            assert copies.drop_online(archive.engine, archive.areas, uid)
        assert len(archive.locate({"StudyInstanceUID": study}, retrieve=True)) == 3
        after = _scrape(core)
        done = "pacs_storage_recalled_objects_total"
        assert value(after, done, outcome="done") - value(before, done, outcome="done") == 3
        count = "pacs_storage_recall_duration_seconds_count"
        assert value(after, count) - value(before, count) == 1

        # Copied to the NAS by hand already: the rule copies to another area.
        (tmp_path / "far").mkdir()
        far = {"name": "far", "kind": "filesystem", "location": str(tmp_path / "far")}
        assert client.post("/api/storage/areas", json=far).status_code == 201
        rule = {"name": "to far", "action": "copy", "area": "far"}
        assert client.post("/api/storage/rules", json=rule).status_code == 201
        assert client.post("/api/storage/rules/run-now").status_code in (200, 202)
    tasks = _until(core, lambda s: value(s, "pacs_storage_rule_tasks", state="done") >= 3)
    assert value(tasks, "pacs_storage_rule_tasks", state="done") >= 3

    compression = core.core.lifecycle.compression
    saved = "pacs_compression_saved_bytes_total"
    compression.queue_by_hand(next(iter(objects)), codecs.Target(str(JPEGLSLossless), None))
    jobs = _until(core, lambda s: value(s, "pacs_compression_jobs", status="done") >= 1)
    assert value(jobs, "pacs_compression_jobs", status="done") == 1
    assert value(jobs, saved) > value(before, saved)
