"""Exam status changes of the RIS reach the HIS as ORM^O01 / OMI^O23 over MLLP, in order, in
the destination's character set."""

from __future__ import annotations

from collections.abc import Iterator

import hl7
import pytest

from core_server import clock
from core_server.hl7 import outbound
from core_server.hl7.outbound import Destination
from tests.core_server.hl7.conftest import Hl7Setup
from tests.core_server.hl7.mllp import HisListener, ack_fields, message, send, wait_for
from tests.core_server.hl7.test_inbound import msh, pid, segment


@pytest.fixture
def his() -> Iterator[HisListener]:
    listener = HisListener().start()
    yield listener
    listener.stop()


def place_order(setup: Hl7Setup, placer: str, procedure: str = "DR-CHEST-PA") -> int:
    new = message(
        msh("ORM^O01", f"N{placer}", version="2.3.1"),
        pid("P100", "张^三~ZHANG^SAN"),
        segment("ORC", {1: "NW", 2: f"{placer}^HIS"}),
        segment("OBR", {1: "1", 2: f"{placer}^HIS", 4: procedure, 18: f"A{placer}"}),
    )
    (answer,) = send(setup.port, new)
    assert ack_fields(answer)["code"] == "AA", ack_fields(answer)
    return setup.ris.exam_by_accession(f"A{placer}").id


def decoded(raw: bytes) -> hl7.Message:
    text = raw.decode("gb18030" if b"GB 18030" in raw.split(b"\r")[0] else "utf-8")
    return hl7.parse(text)


def test_status_changes_go_out_as_orm_in_order(hl7_setup: Hl7Setup, his: HisListener) -> None:
    outbound.add_destination(
        hl7_setup.engine,
        Destination(name="HIS", host="127.0.0.1", port=his.port, charset="GB 18030-2000"),
    )
    exam_id = place_order(hl7_setup, "S1")
    hl7_setup.ris.change_status(exam_id, "arrived", username="desk")
    hl7_setup.ris.change_status(exam_id, "in_progress", username="tech")
    hl7_setup.ris.change_status(exam_id, "completed", username="tech")
    wait_for(lambda: len(his.messages) == 4)
    parsed = [decoded(m) for m in his.messages]
    assert [p["ORC.F5"] for p in parsed] == ["SC", "SC", "IP", "CM"]
    assert [p["NTE.F3"] for p in parsed] == ["scheduled", "arrived", "in_progress", "completed"]
    first = parsed[0]
    assert str(first.segment("MSH")(9)) == "ORM^O01" and first["MSH.F18"] == "GB 18030-2000"
    assert first["ORC.F1"] == "SC" and str(first.segment("ORC")(2)) == "S1^HIS"
    changes = hl7_setup.ris.history(exam_id)
    # ORC-9 is the hospital's time with its offset, whatever zone the machine runs in (UTC
    # in the tests): not the machine's wall clock.
    assert [p["ORC.F9"] for p in parsed] == [clock.hl7_ts(c.at) for c in changes]
    assert all(p["ORC.F9"].endswith("+0800") for p in parsed)
    assert first["OBR.F18"] == "AS1" and first["OBR.F4.R1.C1"] == "DR-CHEST-PA"
    assert first["PID.F3.R1.C1"] == "P100" and first["PID.F5.R1.C1"] == "张"
    assert first["ZDS.F1.R1.C1"].startswith(("1.", "2."))
    # The HIS has the fourth message before the sender has written down its ACK.
    wait_for(lambda: {j.status for j in outbound.list_jobs(hl7_setup.engine)} == {"sent"})
    jobs = outbound.list_jobs(hl7_setup.engine)
    assert {j.status for j in jobs} == {"sent"} and {j.ack_code for j in jobs} == {"AA"}
    assert {j.source for j in jobs} == {"ris.exam_status_changed"}


def test_omi_to_an_ascii_destination_carries_pinyin_only(
    hl7_setup: Hl7Setup, his: HisListener
) -> None:
    outbound.add_destination(
        hl7_setup.engine,
        Destination(
            name="EMR",
            host="127.0.0.1",
            port=his.port,
            charset="ASCII",
            status_message="OMI",
        ),
    )
    exam_id = place_order(hl7_setup, "S2", "CT-HEAD")
    hl7_setup.ris.change_status(exam_id, "cancelled", username="desk", reason="患者取消")
    wait_for(lambda: len(his.messages) == 2)
    last = decoded(his.messages[-1])
    assert his.messages[-1].isascii()
    assert str(last.segment("MSH")(9)).startswith("OMI^O23") and last["MSH.F18"] == "ASCII"
    assert last["ORC.F5"] == "CA" and last["OBR.F25"] == "X"
    assert last["PID.F5.R1.C1"] == "ZHANG" and last["IPC.F1"] == "AS2"
    assert last["TQ1.F9"] == "R"


def test_exams_unknown_to_the_his_are_not_reported(hl7_setup: Hl7Setup, his: HisListener) -> None:
    from core_server.ris import OrderIn, PatientIn, ProcedureRequest

    outbound.add_destination(
        hl7_setup.engine, Destination(name="HIS", host="127.0.0.1", port=his.port)
    )
    hl7_setup.ris.register_patient(PatientIn("P200", "李四"), username="desk")
    order = hl7_setup.ris.place_order(
        "P200",
        "",
        OrderIn(placer_order_number="DESK1", procedures=(ProcedureRequest("US-ABD"),)),
        username="desk",
    )
    assert order.exams and outbound.list_jobs(hl7_setup.engine) == []
