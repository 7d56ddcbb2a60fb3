"""Endoscopes, their disinfection log and the warning before capture, through /api/capture on
SQLite and PostgreSQL; the limit counts in real hours and the day's log in the hospital's day."""

from __future__ import annotations

from datetime import timedelta

from core_server import auth, clock
from core_server.capture.scopes import EXPIRED, FAILED, NEVER, UNFINISHED
from tests.core_server.capture.conftest import Unit


def _local(at) -> str:
    """As a nurse types it in the form: the hospital's wall clock, no offset."""
    return clock.local(at).replace(tzinfo=None).isoformat(timespec="minutes")


def test_scope_warnings_follow_the_last_cycle(unit: Unit) -> None:
    nurse, now = unit.nurse, clock.now()
    made = nurse.post(
        "/api/capture/scopes",
        json={"code": "GIF-01", "serial": "2A12345", "model": "GIF-H290", "kind": "gastroscope"},
    )
    assert made.status_code == 201, made.text
    assert made.json()["warning"] == NEVER
    assert nurse.post("/api/capture/scopes", json={"code": "GIF-01"}).status_code == 409

    def cycle(hours_ago: float, result: str = "passed", ended: bool = True) -> dict:
        start = now - timedelta(hours=hours_ago, minutes=30)
        body = {
            "washer": "W1",
            "cycle": "117",
            "started_at": _local(start),
            "result": result,
            "ended_at": _local(now - timedelta(hours=hours_ago)) if ended else None,
        }
        answer = nurse.post("/api/capture/scopes/GIF-01/disinfections", json=body)
        assert answer.status_code == 201, answer.text
        return answer.json()

    exam = unit.exam("P-SC-1")
    station = unit.device("WEIJING1")
    cycle(25)  # older than the 24 h default
    used = station.post(f"/api/capture/exams/{exam}/scope", json={"scope": "GIF-01"})
    assert used.status_code == 200, used.text
    assert used.json()["warning"] == EXPIRED
    assert used.json()["last_disinfection"]["cycle"] == "117"

    cycle(23.5, "failed")
    assert (
        station.post(f"/api/capture/exams/{exam}/scope", json={"scope": "2A12345"}).json()[
            "warning"
        ]
        == FAILED
    )  # the scanned serial finds the scope too
    cycle(2, ended=False)
    assert nurse.get("/api/capture/scopes").json()["scopes"][0]["warning"] == UNFINISHED
    done = cycle(1)
    fit = station.post(f"/api/capture/exams/{exam}/scope", json={"scope": "GIF-01"}).json()
    assert fit["warning"] is None and fit["last_disinfection"]["id"] == done["id"]
    assert fit["last_disinfection"]["ended_at"].endswith("+08:00")

    recorded = nurse.get(f"/api/capture/exams/{exam}/scope").json()
    assert recorded["scope"]["code"] == "GIF-01" and recorded["warning"] is None
    _, trail = auth.query_audit(unit.core.core.engine, action="capture.scope.used")
    assert [e.detail["warning"] for e in reversed(trail)] == [EXPIRED, FAILED, None]
    assert {e.target for e in trail} == {f"exam:{exam}"}


def test_day_log_is_the_hospital_day_and_prints(unit: Unit) -> None:
    nurse = unit.nurse
    nurse.post("/api/capture/scopes", json={"code": "CF-07", "kind": "colonoscope"})
    # 00:30 and 23:50 of one hospital day: UTC puts them on two different days.
    for hm, cycle in (("00:30", "1"), ("23:50", "2")):
        body = {
            "started_at": f"2026-12-07T{hm}",
            "cycle": cycle,
            "result": "passed",
            "operator": "周^护士",
        }
        assert nurse.post("/api/capture/scopes/CF-07/disinfections", json=body).status_code == 201
    nurse.post(
        "/api/capture/scopes/CF-07/disinfections",
        json={"started_at": "2026-12-08T00:10", "cycle": "3", "result": "failed"},
    )
    day = nurse.get("/api/capture/disinfections", params={"day": "2026-12-07"}).json()
    assert [d["cycle"] for d in day["disinfections"]] == ["1", "2"]
    assert day["disinfections"][0]["started_at"] == "2026-12-07T00:30:00+08:00"

    printed = nurse.get("/api/capture/disinfections.pdf", params={"day": "2026-12-07"})
    assert printed.status_code == 200 and printed.content.startswith(b"%PDF")
    sheet = nurse.get("/api/capture/disinfections.xlsx", params={"day": "2026-12-07"})
    assert sheet.status_code == 200
    from io import BytesIO

    from openpyxl import load_workbook

    rows = list(load_workbook(BytesIO(sheet.content)).active.iter_rows(values_only=True))
    assert rows[1][0] == "内镜编号" and rows[2][0] == "CF-07" and rows[2][2] == "1"
    assert rows[2][5] == "周护士"  # a name a person reads, never the raw ^
    assert len(rows) == 4

    bad = nurse.post(
        "/api/capture/scopes/CF-07/disinfections",
        json={"started_at": "2026-12-07T10:00", "result": "maybe"},
    )
    assert bad.status_code == 422
    assert nurse.get("/api/capture/scopes/NOPE/disinfections").status_code == 404


def test_who_may(unit: Unit) -> None:
    exam = unit.exam("P-SC-2")
    unit.nurse.post("/api/capture/scopes", json={"code": "GIF-02"})
    assert unit.clinician.get("/api/capture/scopes").status_code == 403
    assert unit.clinician.post("/api/capture/scopes", json={"code": "X"}).status_code == 403
    kiosk = unit.device("KIOSK1", kind="kiosk")
    refused = kiosk.post(f"/api/capture/exams/{exam}/scope", json={"scope": "GIF-02"})
    assert refused.status_code == 403
    assert refused.json()["detail"]["code"] == "capture.not_a_station"
    station = unit.device("WEIJING2")
    assert station.post("/api/capture/scopes", json={"code": "Y"}).status_code == 403
    assert (
        station.post("/api/capture/exams/999999/scope", json={"scope": "GIF-02"}).status_code == 404
    )
