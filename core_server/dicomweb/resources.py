"""Telling "the server is out of resources" (a full disk or database, no memory) from other
failures, so that a client is told to try again later (0xA700, 503) instead of being given a
processing failure or a 500."""

from __future__ import annotations

import errno
import sqlite3

RETRY_AFTER = 300  # seconds: what a 503 for a full disk suggests (freeing room takes a person)
_FULL = {errno.ENOSPC, errno.EDQUOT, errno.ENOMEM}


def out_of_resources(exc: BaseException) -> bool:
    """Whether ``exc`` (or what caused it: SQLAlchemy wraps the driver's error) says the disk,
    the database or the memory is full: ``ENOSPC``/``EDQUOT``, SQLite's "database or disk is
    full", PostgreSQL's class 53 (insufficient resources: disk full, out of memory)."""
    seen: set[int] = set()
    current: BaseException | None = exc
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        if isinstance(current, MemoryError):
            return True
        if isinstance(current, OSError) and current.errno in _FULL:
            return True
        if isinstance(current, sqlite3.OperationalError) and "full" in str(current):
            return True
        if str(getattr(current, "sqlstate", "") or getattr(current, "pgcode", "") or "").startswith(
            "53"
        ):
            return True
        orig = getattr(current, "orig", None)  # sqlalchemy.exc.DBAPIError
        current = (
            orig if isinstance(orig, BaseException) else current.__cause__ or current.__context__
        )
    return False
