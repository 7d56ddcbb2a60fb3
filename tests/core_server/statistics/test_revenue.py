"""Revenue on hand-made data with known answers: prices from the catalogue, a fee a registrar
changed, an exam whose item changed, an exam made before its item had a price, cancelled and
no-show exams earning nothing, an exam at 00:30 local on the UTC day before, a 体检 patient;
the Excel file agreeing with the JSON; prices and fees through the REST API, audited."""

from __future__ import annotations

from dataclasses import replace
from datetime import date, datetime
from io import BytesIO

import httpx
from openpyxl import load_workbook

from core_server.statistics import Filters
from tests.conftest import RunningCore
from tests.core_server.statistics.conftest import Department


def week(**dimensions: str) -> Filters:
    return Filters.parse({"start": "2026-11-01", "end": "2026-11-07", **dimensions})


def price(department: Department, code: str, fen: int) -> None:
    item = next(p for p in department.ris.procedures(active_only=False) if p.code == code)
    department.ris.save_procedure(replace(item, price_fen=fen), username="admin")


def seed(department: Department) -> None:
    price(department, "CT-CHEST", 15000)
    price(department, "MR-HEAD", 50050)
    department.exam(datetime(2026, 11, 2, 23, 30))  # 150.00 on the 2nd
    department.exam(datetime(2026, 11, 3, 0, 30))  # 150.00 on the 3rd (UTC: the 2nd)
    department.exam(
        datetime(2026, 11, 3, 9, 0), "MR-HEAD", status="in_progress", referring="神经内科"
    )
    department.exam(datetime(2026, 11, 3, 10, 0), status="cancelled")  # earns nothing
    department.exam(datetime(2026, 11, 3, 11, 0), status="no_show")  # earns nothing
    # Booked before US-ABD had a price (0), then the registrar charged 80.00.
    checkup = department.exam(
        datetime(2026, 11, 4, 8, 0), "US-ABD", patient_class="physical_exam", referring="体检中心"
    )
    price(department, "US-ABD", 12000)
    assert department.ris.exam(checkup.id).fee_fen == 0  # a later price leaves it alone
    department.ris.set_fee(checkup.id, 8000, username="desk", reason="体检套餐")
    emergency = department.exam(
        datetime(2026, 11, 5, 8, 0), "US-ABD", patient_class="emergency", referring="急诊科"
    )
    assert emergency.fee_fen == 12000
    # Booked as a CT, changed to an MR at the scanner: it costs what an MR costs.
    changed = department.exam(datetime(2026, 11, 6, 8, 0), status="arrived", referring="神经内科")
    department.ris.change_procedure(changed.id, "MR-HEAD", username="tech1")
    department.exam(datetime(2026, 11, 9, 8, 0))  # outside the week


def rows(figure: dict, key: str) -> list[tuple]:
    return [(r[key], r["exams"], r["revenue"], r["average"]) for r in figure["rows"]]


def test_revenue_by_item_department_modality_and_referring(department: Department) -> None:
    seed(department)
    stats = department.statistics
    items = stats.figure("revenue.by_procedure", week(), "zh")
    assert rows(items, "procedure_code") == [
        ("MR-HEAD", 2, 1001.0, 500.5),
        ("CT-CHEST", 2, 300.0, 150.0),
        ("US-ABD", 2, 200.0, 100.0),
    ]
    assert [(r["procedure"], r["price"]) for r in items["rows"]] == [
        ("头颅MR平扫", 500.5),
        ("胸部CT平扫", 150.0),
        ("腹部彩超（肝胆胰脾）", 120.0),
    ]
    assert items["totals"] == {"exams": 6, "revenue": 1501.0, "average": 250.17}
    assert {c["key"]: c["kind"] for c in items["columns"]}["revenue"] == "money"
    assert items["drill"][0] == {"procedure_code": "MR-HEAD"}
    departments = stats.figure("revenue.by_department", week(), "zh")
    assert [(r["department"], r["department_name"], r["revenue"]) for r in departments["rows"]] == [
        ("RAD", "放射科", 1301.0),
        ("US", "超声科", 200.0),
    ]
    modalities = stats.figure("revenue.by_modality", week(), "en")
    assert rows(modalities, "modality") == [
        ("MR", 2, 1001.0, 500.5),
        ("CT", 2, 300.0, 150.0),
        ("US", 2, 200.0, 100.0),
    ]
    referring = stats.figure("revenue.by_referring_department", week(), "zh")
    assert [(r["referring_department"], r["revenue"]) for r in referring["rows"]] == [
        ("神经内科", 1001.0),
        ("呼吸内科", 300.0),
        ("急诊科", 120.0),
        ("体检中心", 80.0),
    ]
    checkups = stats.figure("revenue.by_modality", week(patient_class="physical_exam"), "zh")
    assert rows(checkups, "modality") == [("US", 1, 80.0, 80.0)]
    # The drill-down of a row lists its exams (cancelled ones too: the list shows everything).
    listed = stats.exams(week(**items["drill"][1]), {})
    assert listed["total"] == 4 and {e["status"] for e in listed["exams"]} >= {"cancelled"}


def test_revenue_per_hospital_day(department: Department) -> None:
    seed(department)
    figure = department.statistics.figure("revenue.by_day", week(), "zh")
    by_day = {r["day"]: (r["exams"], r["revenue"], r["average"]) for r in figure["rows"]}
    assert by_day == {
        "2026-11-01": (0, 0.0, None),
        "2026-11-02": (1, 150.0, 150.0),
        "2026-11-03": (2, 650.5, 325.25),
        "2026-11-04": (1, 80.0, 80.0),
        "2026-11-05": (1, 120.0, 120.0),
        "2026-11-06": (1, 500.5, 500.5),
        "2026-11-07": (0, 0.0, None),
    }
    assert figure["totals"]["revenue"] == 1501.0
    assert figure["chart"] == {"kind": "line", "x": "day", "series": ["revenue"]}
    one_day = Filters(start=date(2026, 11, 3), end=date(2026, 11, 3))
    assert department.statistics.figure("revenue.by_day", one_day, "zh")["totals"]["exams"] == 2


def test_revenue_excel_agrees_with_the_figure(department: Department) -> None:
    seed(department)
    figure = department.statistics.figure("revenue.by_procedure", week(), "zh")
    book = load_workbook(BytesIO(department.statistics.excel("revenue.by_procedure", week(), "zh")))
    sheet = book.active
    assert sheet is not None
    table = list(sheet.iter_rows(values_only=True))
    assert table[0][0] == "收入（按检查项目）"
    assert list(table[3]) == [c["label"] for c in figure["columns"]]
    keys = [c["key"] for c in figure["columns"]]
    assert [list(r) for r in table[4:-1]] == [[row[k] for k in keys] for row in figure["rows"]]
    assert list(table[-1])[3:] == [figure["totals"][k] for k in keys[3:]]
    assert table[4][4] == 1001 and table[4][5] == 500.5  # money as numbers Excel sums


def test_prices_and_fees_through_the_api(core: RunningCore) -> None:
    with core.api() as admin:
        item = {"name_zh": "急诊头颅CT", "modality": "CT", "department": "RAD", "price_fen": 16050}
        assert admin.put("/api/ris/procedures/CT-HEAD-ER", json=item).json()["price_fen"] == 16050
        negative = admin.put("/api/ris/procedures/CT-HEAD-ER", json={**item, "price_fen": -1})
        assert negative.status_code == 422
        listed = admin.get("/api/ris/procedures", params={"modality": "CT"}).json()
        assert {p["code"]: p["price_fen"] for p in listed}["CT-HEAD-ER"] == 16050
        admin.post(
            "/api/users", json={"username": "desk", "password": "password-123", "role": "registrar"}
        ).raise_for_status()
        admin.post(
            "/api/users",
            json={"username": "tech", "password": "password-123", "role": "technician"},
        ).raise_for_status()
    registrar = core.api("desk", "password-123")
    technician = core.api("tech", "password-123")
    order = {
        "patient": {"patient_id": "F001", "name": "李四"},
        "placer_order_number": "HIS-F1",
        "procedures": [{"procedure_code": "CT-HEAD-ER"}],
    }
    placed = registrar.post("/api/ris/orders", json=order)
    assert placed.status_code == 201, placed.text
    exam = placed.json()["exams"][0]
    assert exam["fee_fen"] == 16050
    path = f"/api/ris/exams/{exam['id']}/fee"
    assert technician.post(path, json={"fee_fen": 100}).status_code == 403
    assert registrar.post(path, json={"fee_fen": -5}).status_code == 422
    changed = registrar.post(path, json={"fee_fen": 12000, "reason": "医保"})
    assert changed.status_code == 200 and changed.json()["fee_fen"] == 12000
    history = registrar.get(f"/api/ris/exams/{exam['id']}").json()["history"]
    assert history[-1]["reason"] == "fee 160.50 -> 120.00: 医保"
    with core.api() as admin:
        events = admin.get("/api/audit", params={"action": "ris.exam.fee_changed"}).json()
    (event,) = [e for e in events["events"] if e["action"] == "ris.exam.fee_changed"]
    assert event["username"] == "desk" and event["target"] == exam["accession_number"]
    assert httpx.post(core.base_url + path, json={"fee_fen": 0}).status_code == 401
