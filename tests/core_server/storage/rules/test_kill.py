"""Kill -9 mid-move (SQLite and PostgreSQL): a separate process runs the rules' tasks (a copy
to "near", then a move to "far" with ``min_verified=2``) and is killed three times at
different points; after each kill no object is without its online file unless two verified
copies of it are on their areas with the recorded checksum, and a restarted runner finishes
the work, after which a recall brings every object back byte for byte."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

from core_server.archive import copies
from core_server.archive.areas.files import sha256_of
from core_server.storage.tiers import rules, runner_tasks, schedule
from tests.core_server.storage.rules.conftest import World

CHILD = """
import sys
from pathlib import Path
from core_server import db
from core_server.archive import Archive
from core_server.storage.tiers import runner_tasks, schedule
from core_server.storage.tiers.runner import RulesRunner

engine = db.make_engine(sys.argv[1])
archive = Archive(engine, Path(sys.argv[2]))
runner = RulesRunner(engine, archive, archive.bus, usage=lambda: (0, 1))
runner_tasks.QUEUE.release_gone(engine)
print("ready", flush=True)
runner.run_due(schedule.load(engine), urgent_only=False)
"""


def _invariant(world: World, uids: list[str]) -> None:
    """An object without its online file has two verified copies that are really there."""
    gone = copies.not_online(world.engine, uids)
    for uid in uids:
        if world.online_file(uid).exists() and uid not in gone:
            continue
        verified = [c for c in copies.copies_of(world.engine, uid) if c.verified]
        assert len(verified) >= 2, uid
        for copy in verified:
            area = world.archive.areas.get(copy.area)
            assert sha256_of(area.root / copy.key) == copy.sha256  # type: ignore[attr-defined]


def _done(world: World) -> int:
    return runner_tasks.counts(world.engine)["done"]


def test_kill_minus_nine_mid_move_loses_no_object(world: World, database_url: str) -> None:
    schedule.save(
        world.engine,
        {"idle_start": "00:00", "idle_end": "00:00", "max_objects_per_second": 25.0},
    )
    _, uids = world.store(30, size=64)
    original = {u: world.online_file(u).read_bytes() for u in uids}
    for body in (
        {"name": "copy near", "action": "copy", "area": "near", "priority": 1},
        {"name": "move far", "action": "move", "area": "far", "min_verified": 2},
    ):
        rules.create(world.engine, rules.rule_from(body, world.archive.areas), "admin")
    world.runner.evaluate()
    assert runner_tasks.counts(world.engine)["pending"] == 60
    online_dir = str(world.archive.storage.root)
    env = {**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parents[4])}
    for kill_after in (8, 31, 45):  # during the copies, at the first moves, among the moves
        child = subprocess.Popen(
            [sys.executable, "-c", CHILD, database_url, online_dir],
            stdout=subprocess.PIPE,
            env=env,
        )
        try:
            assert child.stdout is not None and child.stdout.readline().strip() == b"ready"
            while _done(world) < kill_after and child.poll() is None:
                time.sleep(0.02)
        finally:
            os.kill(child.pid, signal.SIGKILL)
            child.wait()
        _invariant(world, uids)
    assert 0 < len(copies.not_online(world.engine, uids)) < len(uids)  # killed among moves
    runner_tasks.QUEUE.release_gone(world.engine)
    world.runner.run_due(schedule.load(world.engine), urgent_only=False)
    assert runner_tasks.counts(world.engine) == {"pending": 0, "running": 0, "done": 60, "dead": 0}
    assert copies.not_online(world.engine, uids) == set(uids)
    _invariant(world, uids)
    assert world.archive.recall(uids) == len(uids)
    assert {u: world.online_file(u).read_bytes() for u in uids} == original
