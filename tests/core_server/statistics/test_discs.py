"""Disc use with known answers: jobs counted on the hospital day they ended (a job done at
23:50 local and one at 00:10 the next day fall on two days), discs and fees of done jobs only,
a job under way not counted, per kiosk."""

from __future__ import annotations

import json
from datetime import datetime

from sqlalchemy import insert

from core_server import clock, db
from core_server.discs.tables import disc_jobs
from core_server.statistics import Filters
from tests.core_server.statistics.conftest import Department


def _job(department: Department, state: str, ended: datetime, kiosk: str, discs: int) -> None:
    at = clock.from_local(ended)
    with db.write(department.statistics.engine) as conn:
        conn.execute(
            insert(disc_jobs).values(
                state=state,
                exam_ids=json.dumps([1]),
                copies=1,
                device=kiosk,
                holder=kiosk,
                discs_done=discs,
                discs_total=discs,
                fee_per_disc_fen=550,
                fee_fen=550 * discs if state == "done" else 0,
                created_at=at,
                updated_at=at,
            )
        )


def test_discs_per_day_and_per_kiosk(department: Department) -> None:
    _job(department, "done", datetime(2026, 11, 2, 23, 50), "kiosk-1", 2)
    _job(department, "done", datetime(2026, 11, 3, 0, 10), "kiosk-1", 1)
    _job(department, "failed", datetime(2026, 11, 3, 9, 0), "kiosk-2", 1)
    _job(department, "cancelled", datetime(2026, 11, 3, 10, 0), "kiosk-2", 0)
    _job(department, "burning", datetime(2026, 11, 3, 11, 0), "kiosk-2", 1)  # under way
    _job(department, "done", datetime(2026, 11, 9, 8, 0), "kiosk-1", 1)  # outside the range
    week = Filters.parse({"start": "2026-11-01", "end": "2026-11-07"})
    per_day = department.statistics.figure("discs.by_day", week, "zh")
    rows = {row["day"]: row for row in per_day["rows"]}
    assert len(rows) == 7
    assert rows["2026-11-02"] == {
        "day": "2026-11-02",
        "done": 1,
        "failed": 0,
        "cancelled": 0,
        "discs": 2,
        "fees": 11.0,
    }
    assert rows["2026-11-03"] == {
        "day": "2026-11-03",
        "done": 1,
        "failed": 1,
        "cancelled": 1,
        "discs": 1,
        "fees": 5.5,
    }
    assert per_day["totals"] == {"done": 2, "failed": 1, "cancelled": 1, "discs": 3, "fees": 16.5}
    kiosks = department.statistics.figure("discs.by_kiosk", week, "en")
    assert [(r["kiosk"], r["done"], r["failed"], r["discs"]) for r in kiosks["rows"]] == [
        ("kiosk-1", 2, 0, 3),
        ("kiosk-2", 0, 1, 0),
    ]
    assert kiosks["title"] == "Discs per kiosk"
