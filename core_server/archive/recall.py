"""Recall: objects whose online file was removed are brought back from their fastest verified
copy, written to the online area durably (fsync, rename, fsync the folder) under the path the
index keeps, and marked online again. A study's objects come back in parallel (a thread pool:
an S3 store answers many requests at once) and the bus hears ``archive.recall`` with the
study's state: ``retrieving``, then ``done`` or ``failed``."""

from __future__ import annotations

import logging
import time
from collections.abc import Iterable
from concurrent.futures import ThreadPoolExecutor, as_completed

from sqlalchemy import Engine

from core_server import db, metrics
from core_server.archive import copies as c
from core_server.archive.areas import OfflineSet
from core_server.archive.areas.registry import Areas
from core_server.events import EventBus
from core_server.refusals import Refusal

log = logging.getLogger(__name__)
TOPIC = "archive.recall"
WORKERS = 16
PROGRESS_EVERY = 1.0  # seconds between "retrieving n/N" events of one recall


def restore(engine: Engine, registry: Areas, sop_uid: str, *, force: bool = False) -> bool:
    """Bring one object's online file back from a copy; False when it was online already
    (``force``: replace the online file anyway, for a repair of a missing or corrupt one)."""
    # Another node recalling the same object waits, then finds it online.
    with c.object_held(engine, sop_uid):
        if not force and not c.not_online(engine, [sop_uid]):
            return False
        with db.read(engine) as conn:
            entry = c.instance(conn, sop_uid)
        target = registry.online.new_incoming()
        try:
            copy = c.fetch(registry, c.copies_of(engine, sop_uid), target)
            registry.online.adopt(target, entry.path)
        finally:
            target.unlink(missing_ok=True)
        with db.write(engine) as conn:
            c.mark_online(conn, sop_uid, copy.size, copy.transfer_syntax_uid)
        return True


def recall(
    engine: Engine,
    registry: Areas,
    sop_uids: Iterable[str],
    *,
    workers: int = WORKERS,
    bus: EventBus | None = None,
    study_instance_uid: str = "",
) -> int:
    """Bring back every object named that is not online; how many came back. Raises the
    first failure (an :class:`OfflineSet` asks the operator for a set) after the others ran."""
    missing = sorted(c.not_online(engine, sop_uids))
    if not missing:
        return 0
    _say(bus, study_instance_uid, "retrieving", len(missing), 0)
    failures: list[Exception] = []
    done = 0
    started = told = time.monotonic()
    with ThreadPoolExecutor(max_workers=max(1, min(workers, len(missing)))) as pool:
        futures = [pool.submit(restore, engine, registry, uid) for uid in missing]
        for future in as_completed(futures):
            try:
                done += int(future.result())
            except Exception as e:  # every object gets its try
                failures.append(e)
            if time.monotonic() - told >= PROGRESS_EVERY and done < len(missing):
                told = time.monotonic()  # "retrieving n/N" for the UI, once a second at most
                _say(bus, study_instance_uid, "retrieving", len(missing), done)
    metrics.recalled(done, len(failures), time.monotonic() - started)
    if failures:
        log.warning(
            "recall of %s: %d of %d failed", study_instance_uid, len(failures), len(missing)
        )
        offline = [e for e in failures if isinstance(e, OfflineSet)]
        first = offline[0] if offline else failures[0]
        _say(bus, study_instance_uid, "failed", len(missing), done, first)
        raise first
    _say(bus, study_instance_uid, "done", len(missing), done)
    return done


def _say(
    bus: EventBus | None,
    study: str,
    state: str,
    total: int,
    done: int,
    error: BaseException | None = None,
) -> None:
    if bus is None:
        return
    payload: dict[str, object] = {
        "study_instance_uid": study,
        "state": state,
        "total": total,
        "done": done,
    }
    if isinstance(error, Refusal):
        payload["code"] = error.code
        payload.update({k: v for k, v in error.values.items() if isinstance(v, str | int)})
    bus.publish(TOPIC, payload)
