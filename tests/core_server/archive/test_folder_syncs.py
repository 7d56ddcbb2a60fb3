"""The folder's fsync shared by threads renaming into one folder (storage.FolderSyncs): each
caller returns only after a fsync that began after it asked, and concurrent callers share."""

from __future__ import annotations

import threading
from pathlib import Path

import pytest

from core_server.archive import storage
from core_server.archive.storage import FolderSyncs, StorageArea

WAIT = 30.0


class Gate:
    """A sync that blocks until released, recording the order of events."""

    def __init__(self) -> None:
        self.calls = 0
        self.began = threading.Event()
        self.release = threading.Event()
        self.lock = threading.Lock()
        self.fail_next = False

    def __call__(self, _folder: Path) -> None:
        with self.lock:
            self.calls += 1
            fail, self.fail_next = self.fail_next, False
        self.began.set()
        assert self.release.wait(WAIT)
        if fail:
            raise OSError(5, "I/O error")


def _start(syncs: FolderSyncs, folder: Path, results: list[object]) -> threading.Thread:
    def run() -> None:
        try:
            syncs.sync(folder)
            results.append("ok")
        except OSError as exc:
            results.append(exc)

    thread = threading.Thread(target=run)
    thread.start()
    return thread


def _waiting(syncs: FolderSyncs, folder: Path, users: int) -> None:
    """Until ``users`` callers are at the folder (the later ones blocked behind the first)."""
    for _ in range(3000):
        state = syncs._folders.get(folder)
        if state is not None and state.users == users:
            return
        threading.Event().wait(0.01)
    raise AssertionError("callers did not arrive")


def test_a_caller_during_a_fsync_waits_for_the_next_and_later_callers_share_it(
    tmp_path: Path,
) -> None:
    gate = Gate()
    syncs = FolderSyncs(gate)
    results: list[object] = []
    first = _start(syncs, tmp_path, results)
    assert gate.began.wait(WAIT)  # fsync 1 under way: it may not cover what comes now
    later = [_start(syncs, tmp_path, results) for _ in range(3)]
    _waiting(syncs, tmp_path, 4)
    assert results == [] and gate.calls == 1
    gate.release.set()
    for thread in (first, *later):
        thread.join(WAIT)
    assert results == ["ok"] * 4
    assert gate.calls == 2  # the three later callers shared fsync 2
    assert syncs._folders == {}  # nobody there: forgotten


def test_a_failed_fsync_covers_nobody(tmp_path: Path) -> None:
    gate = Gate()
    syncs = FolderSyncs(gate)
    gate.fail_next = True
    results: list[object] = []
    failing = _start(syncs, tmp_path, results)
    assert gate.began.wait(WAIT)
    waiter = _start(syncs, tmp_path, results)
    _waiting(syncs, tmp_path, 2)
    gate.release.set()
    failing.join(WAIT)
    waiter.join(WAIT)
    assert isinstance(results[0], OSError) and results[1] == "ok"
    assert gate.calls == 2  # the waiter did not take the failed one for its own


def test_storage_area_adopts_from_many_threads(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    counted = Gate()
    counted.release.set()
    real = storage._fsync_dir

    def sync(folder: Path) -> None:
        counted(folder)
        real(folder)

    monkeypatch.setattr(storage, "_folder_syncs", FolderSyncs(sync))
    area = StorageArea(tmp_path)
    errors: list[BaseException] = []

    def adopt_many(number: int) -> None:
        try:
            for i in range(20):
                area.adopt(area.receive(b"x" * 1000), f"2026/12/08/study/{number}-{i}.dcm")
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=adopt_many, args=(n,)) for n in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(WAIT)
    assert errors == []
    assert len(list((tmp_path / "2026/12/08/study").iterdir())) == 160
    assert 1 <= counted.calls <= 160
