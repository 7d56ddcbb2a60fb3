"""Pathology results by HL7 ORU^R01 over a real MLLP socket (python-hl7 as the pathology
system), on SQLite and PostgreSQL: matched by accession number (OBR-3) or kept unmatched and
listed, the ACK checked by hl7apy in strict mode for v2.3.1 and v2.5, a sender off the
allow-list refused with AR and nothing kept."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

import pytest

from core_server.hl7 import Hl7Service
from tests.core_server.followup.conftest import Clinic
from tests.core_server.hl7.mllp import ack_fields, message, send
from tests.core_server.hl7.strict import assert_valid


@dataclass
class Wired:
    clinic: Clinic
    hl7: Hl7Service


@pytest.fixture
def wired(clinic: Clinic) -> Iterator[Wired]:
    service = Hl7Service(
        clinic.engine,
        clinic.ris,
        clinic.reporting.bus,
        host="127.0.0.1",
        port=0,
        application="PACS",
        poll_seconds=0.05,
        reporting=clinic.reporting,
        followup=clinic.followup,
    )
    service.start()
    try:
        yield Wired(clinic, service)
    finally:
        service.stop()


def oru(control_id: str, version: str, accession: str, patient_id: str) -> bytes:
    charset = "UNICODE UTF-8" if version == "2.5" else "UNICODE"
    structure = "^ORU_R01" if version == "2.5" else ""
    return message(
        f"MSH|^~\\&|PIS|HOSP|PACS|RAD|20261207100000||ORU^R01{structure}|{control_id}|P|"
        f"{version}||||||{charset}",
        f"PID|1||{patient_id}^^^HOSP^MR||李^娜||19700101|F",
        f"OBR|1|BL2026-77^PIS|{accession}|CT-CHEST^胸部CT|||20261206153000",
        "OBX|1|TX|GROSS^大体所见||右肺上叶切除标本，见一灰白结节，直径1.8cm||||||F",
        "OBX|2|TX|DX^病理诊断||浸润性腺癌，腺泡为主型~切缘阴性||||||F",
    )


@pytest.mark.parametrize("version", ["2.3.1", "2.5"])
def test_an_oru_puts_the_result_on_its_exam_and_the_ack_is_strictly_valid(
    wired: Wired, version: str
) -> None:
    clinic = wired.clinic
    exam = clinic.exam(author="dr_wang")
    (answer,) = send(wired.hl7.port, oru("R1", version, exam.accession_number, exam.patient_id))
    assert ack_fields(answer)["code"] == "AA", answer
    assert_valid(answer)
    case = clinic.followup.case(exam.id)
    expected = (
        "大体所见：右肺上叶切除标本，见一灰白结节，直径1.8cm\n"
        "病理诊断：浸润性腺癌，腺泡为主型\n切缘阴性"
    )
    assert [r.text for r in case.results] == [expected]
    result = case.results[0]
    assert (result.sender, result.control_id, result.patient_name) == ("PIS", "R1", "李娜")
    assert result.observed_at is not None and result.observed_at.isoformat().startswith(
        "2026-12-06T07:30"  # 15:30 in Shanghai
    )
    report = clinic.reporting.report_for_exam(exam.id)
    assert report is not None and report.pathology_result == expected


@pytest.mark.parametrize("version", ["2.3.1", "2.5"])
def test_an_unmatched_result_is_accepted_kept_and_listed(wired: Wired, version: str) -> None:
    (answer,) = send(wired.hl7.port, oru("R2", version, "NO-SUCH-EXAM", "NOBODY"))
    assert ack_fields(answer)["code"] == "AA"
    assert_valid(answer)
    (kept,) = wired.clinic.followup.unmatched()
    assert kept.accession_number == "NO-SUCH-EXAM" and kept.patient_id == "NOBODY"
    assert kept.placer_number == "BL2026-77" and "浸润性腺癌" in kept.text


def test_an_oru_without_text_is_refused_and_keeps_nothing(wired: Wired) -> None:
    raw = message(
        "MSH|^~\\&|PIS|HOSP|PACS|RAD|20261207100000||ORU^R01^ORU_R01|R3|P|2.5||||||UNICODE UTF-8",
        "PID|1||P1^^^HOSP^MR||李^娜",
        "OBR|1|BL1|ACC1|CT-CHEST",
    )
    (answer,) = send(wired.hl7.port, raw)
    assert ack_fields(answer)["code"] == "AR"
    assert_valid(answer)
    assert wired.clinic.followup.unmatched() == []


def test_a_sender_off_the_allow_list_is_refused(wired: Wired) -> None:
    wired.hl7.allow_sender(sending_application="HIS", sending_facility="HOSP", by="admin")
    (answer,) = send(wired.hl7.port, oru("R4", "2.5", "ACC", "P1"))
    assert ack_fields(answer)["code"] == "AR"
    assert_valid(answer)
    assert wired.clinic.followup.unmatched() == []
