"""What a validating HL7 engine reads from us: every ACK, ORR and ORI we answer and every
message we send, checked by hl7apy in strict mode (``strict.py``) in v2.3.1 and v2.5; each
answered in the sender's version with the segments that version defines; a message whose
body cannot be decoded still answered to its sender under its control ID; unknown versions
refused."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime

import hl7
import pytest

from core_server.hl7 import outbound
from core_server.hl7.outbound import Destination
from tests.core_server.hl7.conftest import Hl7Setup
from tests.core_server.hl7.mllp import HisListener, ack_fields, message, send, wait_for
from tests.core_server.hl7.strict import assert_valid, problems
from tests.core_server.hl7.test_inbound import msh, pid, pv1, segment

UTF8 = "UNICODE UTF-8"


def fields_of(answer: bytes, codec: str = "utf-8") -> hl7.Message:
    return hl7.parse(answer.decode(codec))


def segment_ids(answer: bytes) -> list[str]:
    return [s[:3] for s in answer.decode("utf-8", "replace").split("\r") if s]


@pytest.mark.parametrize("version", ["2.3.1", "2.5"])
def test_acks_are_valid_in_the_senders_version(hl7_setup: Hl7Setup, version: str) -> None:
    cases = [
        message(msh("ADT^A04^ADT_A01", f"C1-{version}", version=version), pid("C1", "张^三")),
        # AE: an unknown visit; AR: a message type we do not take
        message(
            msh("ADT^A11^ADT_A09", f"C2-{version}", version=version),
            pid("C1", "张^三"),
            pv1("NOVISIT"),
        ),
        message(msh("SIU^S12", f"C3-{version}", version=version), pid("C1", "张^三")),
    ]
    answers = send(hl7_setup.port, *cases)
    assert [ack_fields(a)["code"] for a in answers] == ["AA", "AE", "AR"]
    for answer in answers:
        assert_valid(answer)
        head = fields_of(answer)
        assert head["MSH.F12"] == version and str(head.segment("MSH")(9)).endswith("^ACK")
        # MSH-18 in the words of the sender's version (v2.3.1's table 0211 has no UTF-8)
        assert head["MSH.F18"] == ("UNICODE" if version == "2.3.1" else UTF8)
    refused = fields_of(answers[1])
    err = refused.segment("ERR")
    if version == "2.3.1":  # ERR-1 is the only field of v2.3.1's ERR
        assert len(err) == 2 and refused["ERR.F1.R1.C4.S1"] == "204"
    else:
        assert refused["ERR.F3.R1.C1"] == "204" and refused["ERR.F4"] == "E"


def orm(control_id: str, version: str, *orders: tuple[str, str]) -> bytes:
    groups = []
    for placer, code in orders:
        groups += [
            segment("ORC", {1: "NW", 2: f"{placer}^HIS"}),
            segment("OBR", {1: "1", 2: f"{placer}^HIS", 4: f"{code}^{code}^L", 18: f"A{placer}"}),
        ]
    return message(msh("ORM^O01", control_id, version=version), pid("C10", "李^四"), *groups)


@pytest.mark.parametrize("version", ["2.3.1", "2.5"])
def test_orr_repeats_each_order_with_its_obr(hl7_setup: Hl7Setup, version: str) -> None:
    accepted = orm(f"C10-{version}", version, (f"ORD{version}", "CT-CHEST"))
    refused = orm(f"C11-{version}", version, (f"BAD{version}", "NO-SUCH-ITEM"))
    good, bad = send(hl7_setup.port, accepted, refused)
    assert ack_fields(good)["code"] == "AA" and ack_fields(bad)["code"] == "AE"
    for answer in (good, bad):
        assert_valid(answer)
        assert segment_ids(answer)[-2:] == ["ORC", "OBR"]
        assert str(fields_of(answer).segment("MSH")(9)) == "ORR^O02^ORR_O02"
    assert fields_of(good)["ORC.F1"] == "OK" and fields_of(bad)["ORC.F1"] == "UA"
    assert fields_of(good)["OBR.F4.R1.C1"] == "CT-CHEST"


def test_ori_repeats_each_order_with_its_obr_and_ipc(hl7_setup: Hl7Setup) -> None:
    omi = message(
        msh("OMI^O23^OMI_O23", "C20"),
        pid("C20", "王^五"),
        "ORC|NW|ORD20^HIS",
        "TQ1|1||||||20261129100000||R",
        "OBR|1|ORD20^HIS||MR-HEAD^头颅MR平扫^L",
        "IPC|ACC20|RP20|1.2.3.20|SPS20|MR",
    )
    (answer,) = send(hl7_setup.port, omi)
    assert ack_fields(answer)["code"] == "AA", ack_fields(answer)
    assert_valid(answer)
    assert segment_ids(answer) == ["MSH", "MSA", "ORC", "OBR", "IPC"]
    assert fields_of(answer)["IPC.F1"] == "ACC20" and fields_of(answer)["IPC.F3"] == "1.2.3.20"


def test_an_undecodable_message_is_refused_to_its_sender_under_its_control_id(
    hl7_setup: Hl7Setup,
) -> None:
    # Declared UTF-8, written in GB18030: the body cannot be read, the header can.
    raw = message(
        msh("ADT^A04^ADT_A01", "C30", UTF8, "2.3.1"), pid("C30", "赵^六"), charset="gb18030"
    )
    (answer,) = send(hl7_setup.port, raw)
    fields = ack_fields(answer)
    assert fields["code"] == "AR" and fields["control_id"] == "C30"
    assert fields["err_location"].startswith("MSH")
    head = fields_of(answer)
    assert (head["MSH.F5"], head["MSH.F6"], head["MSH.F12"]) == ("HIS", "HOSP", "2.3.1")
    assert_valid(answer)


def test_an_unknown_version_is_refused(hl7_setup: Hl7Setup) -> None:
    (answer,) = send(
        hl7_setup.port,
        message(msh("ADT^A04^ADT_A01", "C40", version="9.9"), pid("C40", "钱^七")),
    )
    fields = ack_fields(answer)
    assert fields["code"] == "AR" and fields["err_code"] == "203" and "9.9" in fields["text"]
    assert fields_of(answer)["MSH.F12"] == "2.5"  # answered in ours: 9.9 defines nothing
    assert_valid(answer)
    with pytest.raises(Exception):  # noqa: B017  (the patient was not registered)
        hl7_setup.ris.patient("C40", "HOSP")


@pytest.fixture
def his() -> Iterator[HisListener]:
    listener = HisListener().start()
    yield listener
    listener.stop()


@pytest.mark.parametrize(
    ("status_message", "charset"),
    [("ORM", "UNICODE UTF-8"), ("ORM", "GB 18030-2000"), ("OMI", "UNICODE UTF-8")],
)
def test_status_messages_are_valid(
    hl7_setup: Hl7Setup, his: HisListener, status_message: str, charset: str
) -> None:
    outbound.add_destination(
        hl7_setup.engine,
        Destination(
            name="HIS",
            host="127.0.0.1",
            port=his.port,
            charset=charset,
            status_message=status_message,
        ),
    )
    (answer,) = send(hl7_setup.port, orm("C50", "2.3.1", ("ORD50", "CT-CHEST")))
    assert ack_fields(answer)["code"] == "AA"
    exam = hl7_setup.ris.exam_by_accession("AORD50")
    hl7_setup.ris.change_status(exam.id, "arrived", username="desk")
    wait_for(lambda: len(his.messages) == 2)
    codec = "gb18030" if charset.startswith("GB") else "utf-8"
    # v2.3.1's table 0211 has no Chinese character set: the one deviation, chosen (an empty
    # MSH-18 would say ASCII), is v2.5's name for GB 18030.
    expected = []
    if status_message == "ORM" and codec == "gb18030":
        expected = ["Warning: Value GB 18030-2000 not in table HL70211 in element MSH.MSH_18"]
    for sent in his.messages:
        text = sent.decode(codec)
        assert problems(text) == expected, text
    first = hl7.parse(his.messages[0].decode(codec))
    assert first["MSH.F12"] == ("2.5" if status_message == "OMI" else "2.3.1")
    if status_message == "ORM":  # v2.3.1 names UTF-8 "UNICODE"; GB 18030 only from v2.5 on
        assert first["MSH.F18"] == ("UNICODE" if codec == "utf-8" else "GB 18030-2000")
    # PID-5: the Chinese name, then its pinyin, each marked legal (L) and how it is written
    names = [str(r) for r in first.segment("PID")(5)]
    assert names == ["李^四^^^^^L^I", "LI^SI^^^^^L^A"]


def test_times_without_an_offset_are_the_hospitals_and_an_offset_is_honoured(
    hl7_setup: Hl7Setup,
) -> None:
    """The machine runs in UTC (conftest), the hospital in Asia/Shanghai: an ORM scheduled for
    14:12 reaches the RIS as 14:12+08:00 (06:12 UTC); one that names its offset keeps it."""
    local = orm("C60", "2.3.1", ("ORD60", "CT-CHEST"))
    local = local.replace(b"|AORD60", b"|AORD60" + b"|" * 18 + b"20261129141200")  # OBR-36
    zoned = orm("C61", "2.3.1", ("ORD61", "CT-CHEST"))
    zoned = zoned.replace(b"|AORD61", b"|AORD61" + b"|" * 18 + b"20261129141200+0900")
    assert [ack_fields(a)["code"] for a in send(hl7_setup.port, local, zoned)] == ["AA", "AA"]
    first = hl7_setup.ris.exam_by_accession("AORD60").scheduled_at
    second = hl7_setup.ris.exam_by_accession("AORD61").scheduled_at
    assert first is not None and second is not None
    assert first.astimezone(UTC) == datetime(2026, 11, 29, 6, 12, tzinfo=UTC)
    assert second.astimezone(UTC) == datetime(2026, 11, 29, 5, 12, tzinfo=UTC)


def test_names_reach_the_ris_as_given(hl7_setup: Hl7Setup) -> None:
    western = message(
        msh("ADT^A04^ADT_A01", "C70"),
        segment("PID", {1: "1", 3: "C70^^^HOSP^MR", 5: "Smith^John^^Jr^Dr^^L^A", 8: "M"}),
    )
    marked = message(  # XPN-8 says which repetition is which, whatever the characters
        msh("ADT^A04^ADT_A01", "C71"),
        segment("PID", {1: "1", 3: "C71^^^HOSP^MR", 5: "DAN^XUEMEI^^^^^L^A~单^雪梅^^^^^L^I"}),
    )
    assert [ack_fields(a)["code"] for a in send(hl7_setup.port, western, marked)] == ["AA"] * 2
    assert hl7_setup.ris.patient("C70", "HOSP").name == "Smith^John^^Dr^Jr"  # not upper-cased
    chinese = hl7_setup.ris.patient("C71", "HOSP")
    assert chinese.name == "单^雪梅" and chinese.name_pinyin == "DAN^XUEMEI"
