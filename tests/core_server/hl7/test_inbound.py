"""Inbound HL7 over real MLLP sockets (python-hl7 as the client) into the RIS: ADT
register/update/merge/cancel, ORM and OMI orders, character sets; and, on SQLite and
PostgreSQL, malformed messages, duplicates, and that every message is stored before it is
acknowledged."""

from __future__ import annotations

from sqlalchemy import select

from core_server import db
from core_server.hl7.tables import hl7_inbound_messages as inbound
from tests.core_server.hl7.conftest import Hl7Setup
from tests.core_server.hl7.mllp import ack_fields, message, send

UTF8 = "UNICODE UTF-8"
GB = "GB 18030-2000"


def msh(kind: str, control_id: str, charset: str = UTF8, version: str = "2.5") -> str:
    head = "MSH|^~\\&|HIS|HOSP|PACS|RAD|20261129080000"
    return f"{head}||{kind}|{control_id}|P|{version}||||||{charset}"


def segment(name: str, fields: dict[int, str]) -> str:
    """A segment with the given fields by number, the others empty."""
    return "|".join([name, *(fields.get(n, "") for n in range(1, max(fields) + 1))])


def pid(patient_id: str, name: str, birth_date: str = "19900307") -> str:
    return segment(
        "PID",
        {
            1: "1",
            3: f"{patient_id}^^^HOSP^MR~110101199003077512^^^CHN^NI",
            5: name,
            7: birth_date,
            8: "M",
            11: "中关村大街1号^^海淀区^北京市",
            13: "13800138000",
        },
    )


def pv1(visit_number: str, patient_class: str = "O") -> str:
    return f"PV1|1|{patient_class}" + "|" * 17 + visit_number


def orcs(answer: bytes) -> list[str]:
    return [s for s in answer.decode().split("\r") if s.startswith("ORC")]


def stored(setup: Hl7Setup, control_id: str) -> dict[str, object]:
    with db.read(setup.engine) as conn:
        row = conn.execute(select(inbound).where(inbound.c.control_id == control_id)).one()
    return dict(row._mapping)


def test_a01_in_gb18030_registers_the_patient_with_a_visit(hl7_setup: Hl7Setup) -> None:
    raw = message(
        msh("ADT^A01^ADT_A01", "M1", GB),
        "EVN|A01|20261129080000",
        pid("P001", "张^三~ZHANG^SAN"),
        segment(
            "PV1",
            {1: "1", 2: "I", 3: "W3^301^2", 7: "D01^李^医生", 19: "V001", 44: "20261129075000"},
        ),
        charset="gb18030",
    )
    (answer,) = send(hl7_setup.port, raw)
    fields = ack_fields(answer, "gb18030")
    assert fields["code"] == "AA", fields
    assert fields["control_id"] == "M1"
    patient = hl7_setup.ris.patient("P001", "HOSP")
    assert patient.name.replace("^", "") == "张三" and patient.name_pinyin == "ZHANG^SAN"
    assert patient.id_card_number == "110101199003077512" and patient.sex == "M"
    assert str(patient.birth_date) == "1990-03-07" and patient.phone == "13800138000"
    assert patient.address == "北京市海淀区中关村大街1号"
    row = stored(hl7_setup, "M1")
    assert row["raw"] == raw and row["charset"] == "gb18030" and row["status"] == "accepted"
    assert row["ack"] is not None and str(row["ack"]).encode("gb18030") == answer


def test_a04_utf8_then_a08_renames_then_a11_cancels_the_visit(hl7_setup: Hl7Setup) -> None:
    register = message(
        msh("ADT^A04^ADT_A01", "M2"),
        pid("P002", "欧阳^娜娜"),
        pv1("V002"),
    )
    rename = message(msh("ADT^A08^ADT_A01", "M3"), pid("P002", "欧阳^娜"))
    cancel = message(msh("ADT^A11^ADT_A09", "M4"), pid("P002", "欧阳^娜"), pv1("V002"))
    answers = send(hl7_setup.port, register, rename, cancel)
    assert [ack_fields(a)["code"] for a in answers] == ["AA", "AA", "AA"]
    patient = hl7_setup.ris.patient("P002", "HOSP")
    assert patient.name.replace("^", "") == "欧阳娜" and patient.name_pinyin.startswith("OUYANG")
    # The visit is cancelled now: a second cancel of an unknown visit is an application error.
    unknown = message(msh("ADT^A11^ADT_A09", "M5"), pid("P002", "欧阳^娜"), pv1("V404"))
    (answer,) = send(hl7_setup.port, unknown)
    fields = ack_fields(answer)
    assert fields["code"] == "AE" and fields["err_code"] == "204"


def test_a40_merges_and_a_self_merge_is_refused(hl7_setup: Hl7Setup) -> None:
    send(
        hl7_setup.port,
        message(msh("ADT^A04^ADT_A01", "M10"), pid("P010", "王^五")),
        message(msh("ADT^A04^ADT_A01", "M11"), pid("P011", "王^五")),
    )
    merge = message(msh("ADT^A40^ADT_A39", "M12"), pid("P010", "王^五"), "MRG|P011^^^HOSP")
    self_merge = message(msh("ADT^A40^ADT_A39", "M13"), pid("P010", "王^五"), "MRG|P010^^^HOSP")
    merged, refused = send(hl7_setup.port, merge, self_merge)
    assert ack_fields(merged)["code"] == "AA"
    assert hl7_setup.ris.patient("P011", "HOSP").merged_into == "P010"
    fields = ack_fields(refused)
    assert fields["code"] == "AE" and "itself" in fields["err_text"]
    assert fields["err_location"].startswith("MRG")
    assert hl7_setup.ris.patient("P010", "HOSP").merged_into is None
    assert stored(hl7_setup, "M13")["status"] == "error"
    # To an identifier never seen (IHE PAM): the surviving patient is registered from PID.
    new_id = message(msh("ADT^A40^ADT_A39", "M14"), pid("P014", "王^五"), "MRG|P010^^^HOSP")
    unknown_prior = message(msh("ADT^A40^ADT_A39", "M15"), pid("P014", "王^五"), "MRG|P404")
    moved, unknown = send(hl7_setup.port, new_id, unknown_prior)
    assert ack_fields(moved)["code"] == "AA"
    assert hl7_setup.ris.patient("P010", "HOSP").merged_into == "P014"
    assert ack_fields(unknown)["code"] == "AE" and ack_fields(unknown)["err_code"] == "204"


def test_orm_new_and_cancel(hl7_setup: Hl7Setup) -> None:
    new = message(
        msh("ORM^O01", "M20", version="2.3.1"),
        pid("P020", "赵^六"),
        pv1("V020"),
        segment(
            "ORC",
            {
                1: "NW",
                2: "ORD20^HIS",
                7: "^^^20261129090000^^R",
                9: "20261129080000",
                12: "D01^孙^医生",
            },
        ),
        segment(
            "OBR",
            {
                1: "1",
                2: "ORD20^HIS",
                4: "CT-CHEST^胸部CT平扫^L",
                13: "咳嗽两周",
                18: "ACC20",
                19: "RP20",
                24: "CT",
            },
        ),
    )
    (answer,) = send(hl7_setup.port, new)
    assert ack_fields(answer)["code"] == "AA", ack_fields(answer)
    # the application acknowledgement of an order: ORR^O02 with its structure (MSH-9.3,
    # defined from v2.3.1 on), the order accepted (OK) under its placer number
    assert ack_fields(answer)["type"] == "ORR^O02^ORR_O02"
    assert orcs(answer) == ["ORC|OK|ORD20^HIS"]
    order = hl7_setup.ris.order(placer_order_number="ORD20", placer_application="HIS")
    (exam,) = order.exams
    assert exam.accession_number == "ACC20" and exam.modality == "CT"
    assert exam.patient_id == "P020" and exam.status == "scheduled"
    assert order.referring_physician == "孙医生" and "咳嗽两周" in order.clinical_info
    cancel = message(
        msh("ORM^O01", "M21", version="2.3.1"),
        pid("P020", "赵^六"),
        "ORC|CA|ORD20^HIS",
        "OBR|1|ORD20^HIS||CT-CHEST^胸部CT平扫^L",
    )
    (answer,) = send(hl7_setup.port, cancel)
    assert ack_fields(answer)["code"] == "AA"
    assert orcs(answer) == ["ORC|CR|ORD20^HIS"]  # cancelled as requested
    assert hl7_setup.ris.exam(exam.id).status == "cancelled"


def test_omi_new_with_two_procedures_and_cancel(hl7_setup: Hl7Setup) -> None:
    new = message(
        msh("OMI^O23^OMI_O23", "M30"),
        pid("P030", "钱^七"),
        pv1("V030", "E"),
        "ORC|NW|ORD30^HIS",
        "TQ1|1||||||20261129100000||S",
        "OBR|1|ORD30^HIS||MR-HEAD^头颅MR平扫^L",
        "IPC|ACC30A|RP30A|1.2.3.30.1|SPS30A|MR",
        "ORC|NW|ORD30^HIS",
        "TQ1|1||||||20261129103000||S",
        "OBR|2|ORD30^HIS||MR-CSPINE^颈椎MR平扫^L",
        "IPC|ACC30B|RP30B|1.2.3.30.2|SPS30B|MR",
    )
    (answer,) = send(hl7_setup.port, new)
    assert ack_fields(answer)["code"] == "AA", ack_fields(answer)
    assert ack_fields(answer)["type"] == "ORI^O24^ORI_O24"
    assert orcs(answer) == ["ORC|OK|ORD30^HIS", "ORC|OK|ORD30^HIS"]
    order = hl7_setup.ris.order(placer_order_number="ORD30", placer_application="HIS")
    assert sorted(e.accession_number for e in order.exams) == ["ACC30A", "ACC30B"]
    assert order.emergency and order.priority == "STAT"
    cancel = message(msh("OMI^O23^OMI_O23", "M31"), pid("P030", "钱^七"), "ORC|CA|ORD30^HIS")
    (answer,) = send(hl7_setup.port, cancel)
    assert ack_fields(answer)["code"] == "AA"
    assert {hl7_setup.ris.exam(e.id).status for e in order.exams} == {"cancelled"}


def test_duplicate_control_id_is_answered_again_not_applied_twice(hl7_on: Hl7Setup) -> None:
    first = message(msh("ADT^A04^ADT_A01", "M40"), pid("P040", "孙^八"))
    resend_changed = message(msh("ADT^A04^ADT_A01", "M40"), pid("P040", "孙^九"))
    one, two = send(hl7_on.port, first, resend_changed)
    assert one == two  # the very same ACK
    assert hl7_on.ris.patient("P040", "HOSP").name.replace("^", "") == "孙八"
    row = stored(hl7_on, "M40")
    assert row["duplicates"] == 1 and row["raw"] == first


def test_malformed_messages_get_ar_and_the_listener_goes_on(hl7_on: Hl7Setup) -> None:
    cases = [
        (b"this is not HL7", "100", None),
        (message(msh("ADT^A04^ADT_A01", "", UTF8), pid("P050", "周^一")), "101", "MSH"),
        (message(msh("ADT^A04^ADT_A01", "M50"), "PID|1||||"), "101", "PID"),
        (
            message(msh("ADT^A04^ADT_A01", "M51"), pid("P051", "周^二", "19901399")),
            "102",
            None,
        ),
        (message(msh("ADT^Z99", "M52"), pid("P052", "周^三")), "201", "MSH"),
        (message(msh("SIU^S12", "M53"), pid("P053", "周^四")), "200", "MSH"),
        (
            message(msh("ADT^A04^ADT_A01", "M54", GB), pid("P054", "周^五")),
            "102",
            "MSH",
        ),  # UTF-8 bytes
        (
            message(
                msh("ORM^O01", "M55"), pid("P055", "周^六"), "ORC|XX|O55", "OBR|1|O55||CT-HEAD"
            ),
            "103",
            "ORC",
        ),
        (
            message(msh("ORM^O01", "M56"), pid("P056", "周^七"), "ORC|NW|O56", "OBR|1|O56||NOPE"),
            "204",
            None,
        ),
    ]
    good = message(msh("ADT^A04^ADT_A01", "M59"), pid("P059", "周^九"))
    answers = send(hl7_on.port, *(raw for raw, _, _ in cases), good)
    for (raw, code, location), answer in zip(cases, answers, strict=False):
        fields = ack_fields(answer)
        assert fields["code"] in ("AR", "AE"), (raw, fields)
        assert fields["err_code"] == code, (raw, fields)
        assert fields["text"], fields
        if location:
            assert fields["err_location"].startswith(location), fields
    assert ack_fields(answers[-1])["code"] == "AA"
    # A refused order is answered ORR^O02^ORR_O02 with the order unable to be accepted (UA);
    # an unknown order control code is echoed.
    assert ack_fields(answers[-2])["type"] == "ORR^O02^ORR_O02"
    assert orcs(answers[-2]) == ["ORC|UA|O56"] and orcs(answers[-3]) == ["ORC|XX|O55"]
    # Every one was stored, broken or not.
    with db.read(hl7_on.engine) as conn:
        count = len(conn.execute(select(inbound.c.id)).all())
    assert count == len(cases) + 1


def test_garbage_without_mllp_start_is_answered_and_the_connection_goes_on(
    hl7_setup: Hl7Setup,
) -> None:
    import socket

    with socket.create_connection(("127.0.0.1", hl7_setup.port)) as sock:
        sock.sendall(b"GARBAGE\x1c\r")
        good = message(msh("ADT^A04^ADT_A01", "M60"), pid("P060", "吴^十"))
        sock.sendall(b"\x0b" + good + b"\x1c\r")
        data = b""
        while data.count(b"\x1c\r") < 2:
            chunk = sock.recv(65536)
            assert chunk, data
            data += chunk
    first, second = (block.lstrip(b"\x0b") for block in data.split(b"\x1c\r")[:2])
    assert ack_fields(first)["code"] == "AR"
    assert ack_fields(second)["code"] == "AA"
    hl7_setup.ris.patient("P060", "HOSP")


def test_stored_before_applied_and_internal_failure_keeps_no_ack(hl7_on: Hl7Setup) -> None:
    """While a message is applied its bytes are already committed (seen from another
    connection); a failure inside (not the sender's fault) gets AE with no ACK recorded, so
    the sender's resend of the same control ID is applied, not answered from the log."""
    seen: list[tuple[str, bytes]] = []
    real_apply = hl7_on.service.receiver.apply

    def apply(msg, head):  # type: ignore[no-untyped-def]
        row = stored(hl7_on, head.control_id)
        seen.append((str(row["status"]), bytes(row["raw"])))  # type: ignore[call-overload]
        if len(seen) == 1:
            raise RuntimeError("database went away")
        return real_apply(msg, head)

    hl7_on.service.receiver.apply = apply
    raw = message(msh("ADT^A04^ADT_A01", "M70"), pid("P070", "郑^一"))
    first, second = send(hl7_on.port, raw, raw)
    assert ack_fields(first)["code"] == "AE" and ack_fields(first)["err_code"] == "207"
    assert ack_fields(second)["code"] == "AA"
    assert seen == [("processing", raw), ("processing", raw)]
    assert hl7_on.ris.patient("P070", "HOSP").name.replace("^", "") == "郑一"


def test_a_resend_while_the_first_is_being_applied_is_told_to_wait(hl7_on: Hl7Setup) -> None:
    """The HIS gave up waiting for the ACK (an A08 rewriting many images takes a while) and
    sent the message again on another connection: that one gets AE 206 (record locked), the
    first is applied once and keeps its AA."""
    raw = message(msh("ADT^A04^ADT_A01", "M80"), pid("P080", "冯^一"))
    real_apply = hl7_on.service.receiver.apply
    meanwhile: list[bytes] = []

    def apply(msg, head):  # type: ignore[no-untyped-def]
        meanwhile.extend(send(hl7_on.port, raw))  # the resend, while this one is applied
        return real_apply(msg, head)

    hl7_on.service.receiver.apply = apply
    (first,) = send(hl7_on.port, raw)
    (locked,) = meanwhile
    assert ack_fields(first)["code"] == "AA"
    fields = ack_fields(locked)
    assert fields["code"] == "AE" and fields["err_code"] == "206"
    hl7_on.service.receiver.apply = real_apply
    (later,) = send(hl7_on.port, raw)
    assert later == first
