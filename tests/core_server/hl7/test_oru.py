"""Reports reach the HIS as ORU^R01 (OBR-25 P, then F, then C after an amendment) and critical
values as flagged ORU^R01, over a real MLLP listener, with the ACK recorded in the alert's
chain."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import hl7
import pytest

from core_server import auth, db
from core_server.events import EventBus
from core_server.hl7 import CRITICAL_VALUES, ORDER_STATUS, RESULTS, Hl7Service, outbound
from core_server.hl7.outbound import Destination
from core_server.reporting import Content, Reporting, Template, TemplateField
from core_server.ris import OrderIn, PatientIn, ProcedureRequest, Ris
from tests.core_server.hl7.mllp import HisListener, wait_for
from tests.core_server.hl7.strict import assert_valid
from tests.core_server.reporting.conftest import ATTENDING, RESIDENT


@dataclass
class Site:
    ris: Ris
    reporting: Reporting
    service: Hl7Service
    his: HisListener
    engine: object

    def exam(self, placer: str, *, placer_application: str = "HIS") -> int:
        self.ris.register_patient(PatientIn("P100", "张三"), username="reg")
        order = self.ris.place_order(
            "P100",
            "",
            OrderIn(placer, (ProcedureRequest("CT-CHEST"),), placer_application=placer_application),
            username="hl7:HIS",
        )
        exam_id = order.exams[0].id
        for status in ("arrived", "in_progress", "completed"):
            self.ris.change_status(exam_id, status, username="tech")
        return exam_id

    def received(self, kind: str) -> list[hl7.Message]:
        parsed = [hl7.parse(m.decode("utf-8")) for m in self.his.messages]
        return [p for p in parsed if str(p.segment("MSH")(9)).startswith(kind)]


@pytest.fixture
def site(tmp_path: Path) -> Iterator[Site]:
    engine = db.make_engine(f"sqlite:///{tmp_path / 'core.db'}")
    db.migrate(engine)
    bus = EventBus()
    ris = Ris(engine, bus)
    ris.start()
    reporting = Reporting(engine, bus, ris)
    service = Hl7Service(
        engine,
        ris,
        bus,
        host="127.0.0.1",
        port=0,
        application="PACS",
        poll_seconds=0.05,
        reporting=reporting,
    )
    his = HisListener().start()
    service.start()
    outbound.add_destination(
        engine,
        Destination(
            name="HIS",
            host="127.0.0.1",
            port=his.port,
            purposes=",".join((RESULTS, CRITICAL_VALUES)),
        ),
    )
    try:
        yield Site(ris, reporting, service, his, engine)
    finally:
        service.stop()
        his.stop()
        engine.dispose()


def test_report_goes_out_preliminary_final_then_corrected(site: Site) -> None:
    reporting = site.reporting
    auth.create_user(site.engine, ATTENDING.username, "Sign-off-2026", "reviewing_doctor", "王建国")
    exam_id = site.exam("ORD-ORU-1")
    report = reporting.start(exam_id, RESIDENT)
    reporting.submit(
        report.id,
        RESIDENT,
        Content(findings="<p>右肺上叶结节|1.5cm</p><p>纵隔无异常</p>", impression="<p>结节</p>"),
    )
    reporting.set_flags(report.id, ATTENDING, positive=True)
    reporting.sign(report.id, ATTENDING, Content(impression="<p>右肺上叶结节，建议随访</p>"))
    reporting.amend(report.id, ATTENDING, "补充")
    reporting.submit(report.id, RESIDENT, Content(impression="<p>右肺上叶结节，建议3个月复查</p>"))
    reporting.sign(report.id, ATTENDING)
    wait_for(lambda: len(site.received("ORU")) == 3)
    results = site.received("ORU")
    # Only results: the destination does not serve order status (no ORM among them).
    assert site.received("ORM") == [] and ORDER_STATUS not in RESULTS
    assert [m["OBR.F25"] for m in results] == ["P", "F", "C"]
    assert [m["OBX.F11"] for m in results] == ["P", "F", "C"]  # OBX-11 of the first OBX
    first, final, corrected = results
    assert str(first.segment("MSH")(9)) == "ORU^R01^ORU_R01"
    assert str(first.segment("ORC")(2)) == "ORD-ORU-1^HIS"
    assert first["PID.F3.R1.C1"] == "P100"
    assert first["OBR.F18"] == site.ris.exam(exam_id).accession_number
    findings = first.segment("OBX")(5)
    # One repetition per line, the delimiter in the text escaped (and read back by python-hl7).
    assert [first.unescape(str(r)) for r in findings] == ["右肺上叶结节|1.5cm", "纵隔无异常"]
    impression_of = [str(list(m.segments("OBX"))[1](5)) for m in results]
    assert impression_of == ["结节", "右肺上叶结节，建议随访", "右肺上叶结节，建议3个月复查"]
    assert str(list(final.segments("OBX"))[1](8)) == "A"  # positive
    assert final["OBR.F32"] == ATTENDING.username and corrected["OBR.F25"] == "C"
    # OBR-32 (NDL): the doctor's ID, then family and given name, as subcomponents of its CNN
    assert str(final.segment("OBR")(32)) == "wang.attending&王&建国"
    assert str(first.segment("OBR")(32)) == RESIDENT.username  # a user without a name: the ID
    for sent in site.his.messages:  # as a validating HIS reads them
        assert_valid(sent)

    # Each message was acknowledged by the HIS and recorded so by the queue (the sender marks
    # a job sent after the HIS answered: wait for that mark, not for the HIS's copy).
    def jobs() -> list[outbound.Job]:
        return outbound.list_jobs(site.engine, destination="HIS")  # type: ignore[arg-type]

    wait_for(lambda: [j.status for j in jobs()] == ["sent"] * 3)
    assert sorted(j.ack_code or "" for j in jobs()) == ["AA", "AA", "AA"]


def test_orders_from_our_own_desk_send_no_result(site: Site) -> None:
    exam_id = site.exam("DESK-1", placer_application="")
    report = site.reporting.start(exam_id, RESIDENT)
    site.reporting.submit(report.id, RESIDENT, Content(findings="<p>所见</p>"))
    assert site.service.results is not None
    site.service.results.catch_up()  # what the sender does before each round
    jobs = outbound.list_jobs(site.engine)  # type: ignore[arg-type]
    assert [j.source for j in jobs] == []


def test_critical_value_message_and_its_acknowledged_delivery(site: Site) -> None:
    reporting = site.reporting
    report = reporting.start(site.exam("ORD-CRIT-1"), RESIDENT)
    alert = reporting.raise_critical(report.id, RESIDENT, "左侧张力性气胸")
    wait_for(lambda: site.received("ORU"))
    (message,) = site.received("ORU")
    assert message["OBX.F3.R1.C1"] == "CRITVAL" and message["OBX.F8"] == "AA"
    assert message["OBX.F5"] == "左侧张力性气胸" and message["OBR.F25"] == "P"
    assert_valid(site.his.messages[0])
    assert str(message.segment("NTE")(3)) == f"critical value alert {alert.id}; escalation 0"

    def delivered() -> bool:
        reporting.tick()  # what the background ticker does every few seconds
        return "delivered" in [e.kind for e in reporting.alert(alert.id).chain]

    wait_for(delivered)

    def delivered_all() -> bool:
        reporting.tick()
        return not reporting.undelivered()

    chain = reporting.alert(alert.id).chain
    assert [e.kind for e in chain] == ["raised", "queued", "delivered"]
    assert chain[1].detail == "HIS" and chain[2].ref == chain[1].ref
    assert chain[2].detail.startswith("HIS ACK AA")
    # Escalation sends the alert again, with its level.
    reporting.escalate_due(alert.raised_at.replace(year=alert.raised_at.year + 1))
    wait_for(lambda: len(site.received("ORU")) == 2)
    assert str(site.received("ORU")[1].segment("NTE")(3)).endswith("escalation 1")
    wait_for(delivered_all)
    reporting.acknowledge(alert.id, "dr.ward", "已处理")
    assert [e.kind for e in reporting.alert(alert.id).chain] == [
        "raised",
        "queued",
        "delivered",
        "escalated",
        "queued",
        "delivered",
        "acknowledged",
    ]


def test_structured_fields_go_out_as_typed_observations(site: Site) -> None:
    reporting = site.reporting
    template = reporting.save_template(
        "admin",
        Template(
            0,
            "胸部结节",
            "system",
            "",
            "",
            "CT",
            "CHEST",
            "",
            "",
            "",
            (
                TemplateField("side", "部位", "choice", choices=("左肺", "右肺")),
                TemplateField("size", "最大径", "number", unit="mm"),
                TemplateField("previous", "上次检查", "date"),
            ),
        ),
    )
    reporting.set_default_template("CT-CHEST", template.id)
    report = reporting.start(site.exam("ORD-SR-1"), RESIDENT)
    reporting.submit(
        report.id,
        RESIDENT,
        Content(
            findings="<p>右肺结节</p>",
            fields={"side": "右肺", "size": "8", "previous": "2026-01-05"},
        ),
    )
    wait_for(lambda: site.received("ORU"))
    (message,) = site.received("ORU")
    observations = [
        (str(o(2)), str(o(3)), str(o(5)), str(o(6)), str(o(11))) for o in message.segments("OBX")
    ][2:]
    assert observations == [
        ("ST", "side^部位^99PACS", "右肺", "", "P"),
        ("NM", "size^最大径^99PACS", "8", "mm", "P"),
        ("DT", "previous^上次检查^99PACS", "20260105", "", "P"),
    ]
