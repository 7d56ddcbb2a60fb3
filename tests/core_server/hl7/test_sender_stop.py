"""Stopping the outbound sender always ends its loop. On Python 3.11 ``asyncio.wait_for`` can
swallow a cancellation that meets its inner wait finishing, which left the loop running and
``stop()`` waiting 30 s (seen once in a loaded test run): the loop also looks at a flag."""

from __future__ import annotations

import time
from pathlib import Path

from core_server import db
from core_server.hl7.sender import Sender


def test_stop_ends_the_loop_even_when_the_cancellation_is_lost(tmp_path: Path) -> None:
    engine = db.make_engine(f"sqlite:///{tmp_path / 'core.db'}")
    db.migrate(engine)
    sender = Sender(engine, poll_seconds=0.001)
    sender.start()
    assert sender.running
    task = sender._task
    assert task is not None
    # What the race does: the task's cancel is lost. Only the flag can end the loop now.
    task.uncancel = lambda: 0  # type: ignore[method-assign]
    original_cancel = task.cancel
    task.cancel = lambda msg=None: False  # type: ignore[method-assign]
    began = time.monotonic()
    sender.stop()
    assert time.monotonic() - began < 5
    assert task.done()
    task.cancel = original_cancel  # type: ignore[method-assign]
    engine.dispose()
