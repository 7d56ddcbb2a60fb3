"""``GET /healthz``: are the listeners up, and can this core still store what it is sent?

``status`` is ``starting`` (503) until every listener (HTTP, DICOM, HL7) is up, then ``ok``
(200), or ``degraded`` (200) with ``problems`` when:

- ``disk_low``: a file system of the data directory or storage area has less than
  ``min_free_disk_mb`` free;
- ``disk_full`` / ``database_unwritable``: a write failed for want of space, or the database
  refused it, within the last ``RECENT_SECONDS`` (seen by this process; the refusal handler
  reports them here);
- ``database_read_only``: PostgreSQL says this connection is read-only (a standby).

Degraded answers 200 on purpose: reading (the viewer, the worklist, QIDO) still works, and a
load balancer that took the only core out of service for a full disk would stop those too.
A monitor that watches only the status code asks ``/healthz?strict=true``, which answers 503
when degraded.
"""

from __future__ import annotations

import logging
import shutil
import threading
import time
from pathlib import Path
from typing import Any

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse
from sqlalchemy import text

from core_server import db

log = logging.getLogger(__name__)

RECENT_SECONDS = 60.0
# The database check costs a query; at most one per this many seconds.
DATABASE_CHECK_SECONDS = 10.0
_KIND = {"web.storage.full": "disk_full", "web.storage.unwritable": "database_unwritable"}


class Health:
    """What ``/healthz`` reports beyond the listeners: recent write failures, disk space."""

    def __init__(self, paths: list[Path], min_free_mb: int) -> None:
        self.paths = paths
        self.min_free_mb = min_free_mb
        self._failures: dict[str, tuple[float, str]] = {}
        self._read_only: tuple[float, bool] = (0.0, False)
        self._lock = threading.Lock()

    def write_failed(self, code: str, reason: str) -> None:
        with self._lock:
            self._failures[_KIND.get(code, code)] = (time.monotonic(), reason)

    def problems(self, engine: Any) -> list[dict[str, Any]]:
        found = self._disk_problems()
        now = time.monotonic()
        with self._lock:
            for kind, (at, reason) in self._failures.items():
                if now - at < RECENT_SECONDS:
                    found.append({"code": kind, "reason": reason, "seconds_ago": int(now - at)})
        if self._database_read_only(engine):
            found.append({"code": "database_read_only"})
        return found

    def _disk_problems(self) -> list[dict[str, Any]]:
        if not self.min_free_mb:
            return []
        found: list[dict[str, Any]] = []
        for path in dict.fromkeys(p.resolve() for p in self.paths):
            while not path.exists() and path.parent != path:
                path = path.parent  # not made yet: its file system is its parent's
            try:
                free_mb = shutil.disk_usage(path).free // (1024 * 1024)
            except OSError as exc:
                found.append({"code": "disk_unreadable", "path": str(path), "reason": str(exc)})
                continue
            if free_mb < self.min_free_mb:
                found.append(
                    {
                        "code": "disk_low",
                        "path": str(path),
                        "free_mb": free_mb,
                        "min_free_mb": self.min_free_mb,
                    }
                )
        return found

    def _database_read_only(self, engine: Any) -> bool:
        if db.is_sqlite(engine):
            return False  # SQLite's failures show as write failures above
        checked_at, read_only = self._read_only
        if time.monotonic() - checked_at < DATABASE_CHECK_SECONDS:
            return read_only
        try:
            with engine.connect() as conn:
                read_only = conn.execute(text("SHOW transaction_read_only")).scalar() == "on"
        except Exception:  # the database is away: the write failures say more
            log.warning("health: database check failed", exc_info=True)
            read_only = False
        self._read_only = (time.monotonic(), read_only)
        return read_only


def install(app: FastAPI) -> None:
    ctx = app.state.ctx
    settings = ctx.settings
    app.state.health = Health([settings.data_dir, settings.storage_dir], settings.min_free_disk_mb)

    @app.get("/healthz", tags=["health"])
    def healthz(request: Request, strict: bool = False) -> Any:
        listeners = {name: bool(up()) for name, up in ctx.listeners.items()}
        up = bool(listeners) and all(listeners.values())
        problems = request.app.state.health.problems(ctx.engine) if up else []
        status = "starting" if not up else "degraded" if problems else "ok"
        body = {
            "status": status,
            "ae_title": settings.ae_title,
            "listeners": listeners,
            "ports": {
                "http": settings.http_port,
                "dicom": settings.dicom_port,
                "hl7": settings.hl7_port,
            },
            "problems": problems,
        }
        failing = not up or (strict and bool(problems))
        return JSONResponse(body, status_code=503 if failing else 200)
