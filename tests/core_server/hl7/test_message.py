"""Character sets read from MSH-18, ACKs with MSA and ERR, escaping, outbound addressing."""

from __future__ import annotations

import hl7
import pytest

from core_server.hl7 import charsets
from core_server.hl7.ack import build_ack
from core_server.hl7.errors import MessageError
from core_server.hl7.message import escape, header, parse, parse_datetime
from core_server.hl7.outbound import Destination, prepare

ADT = (
    "MSH|^~\\&|HIS|HOSP|PACS|RAD|20261129080000||ADT^A01^ADT_A01|MSG1|P|2.5||||||{}\rPID|1||P1||{}"
)


def test_charset_named_in_msh18_decodes_gb18030_and_utf8() -> None:
    for name, codec in (
        ("GB 18030-2000", "gb18030"),
        ("UNICODE UTF-8", "utf-8"),
        ("GBK", "gb18030"),
    ):
        raw = ADT.format(name, "欧阳^娜娜").encode(codec)
        assert charsets.declared_charset(raw) == name
        text, used = charsets.decode(raw)
        assert used == codec and "欧阳^娜娜" in text


def test_message_without_msh18_is_utf8_or_else_gb18030() -> None:
    raw = ADT.format("", "张^三")
    assert charsets.decode(raw.encode("utf-8")) == (raw, "utf-8")
    assert charsets.decode(raw.encode("gb18030")) == (raw, "gb18030")


def test_bytes_not_in_the_declared_charset_are_an_error() -> None:
    with pytest.raises(charsets.CharsetError, match="not valid UNICODE UTF-8"):
        charsets.decode(ADT.format("UNICODE UTF-8", "张^三").encode("gb18030"))
    with pytest.raises(charsets.CharsetError, match="unsupported"):
        charsets.decode(ADT.format("KLINGON", "X").encode())


def test_header_and_lf_separated_segments() -> None:
    message = parse(ADT.format("", "张^三").replace("\r", "\n"))
    head = header(message)
    assert head.message_type == "ADT^A01" and head.control_id == "MSG1"
    assert head.sending_application == "HIS" and head.receiving_facility == "RAD"
    assert len(message) == 2


def test_not_hl7_is_rejected() -> None:
    with pytest.raises(MessageError) as caught:
        parse("hello")
    assert caught.value.ack_code == "AR" and caught.value.code == "100"


def test_ack_answers_the_sender_and_says_what_was_wrong() -> None:
    head = header(parse(ADT.format("UNICODE UTF-8", "张^三")))
    error = MessageError("AE", "204", "no patient P9 | unknown", "MRG^1^1")
    ack = hl7.parse(build_ack(head, "AE", error, application="PACS", charset=head.charset))
    assert ack["MSH.F3"] == "PACS" and ack["MSH.F4"] == "RAD"
    assert ack["MSH.F5"] == "HIS" and ack["MSH.F6"] == "HOSP"
    assert ack["MSH.F9.R1.C1"] == "ACK" and ack["MSH.F9.R1.C2"] == "A01"
    assert ack["MSH.F18"] == "UNICODE UTF-8" and ack["MSH.F10"] != "MSG1"
    assert ack["MSA.F1"] == "AE" and ack["MSA.F2"] == "MSG1"
    assert ack["MSA.F3"] == "no patient P9 | unknown"  # the delimiter came back escaped
    assert ack["ERR.F2.R1.C1"] == "MRG" and ack["ERR.F2.R1.C3"] == "1"
    assert ack["ERR.F3.R1.C1"] == "204" and ack["ERR.F3.R1.C3"] == "HL70357"
    assert ack["ERR.F4"] == "E" and ack["ERR.F8"] == "no patient P9 | unknown"
    assert ack["ERR.F1.R1.C4.S1"] == "204"  # v2.3-style ERR-1 too


def test_ack_for_an_unreadable_message() -> None:
    ack = hl7.parse(build_ack(None, "AR", MessageError("AR", "100", "garbage"), application="PACS"))
    assert ack["MSH.F3"] == "PACS" and ack["MSA.F1"] == "AR" and ack["MSA.F2"] == ""


def test_escape_round_trips_through_python_hl7() -> None:
    tricky = "a|b^c&d~e\\f"
    parsed = hl7.parse(f"MSH|^~\\&|X\rNTE|1||{escape(tricky)}\r")
    assert parsed["NTE.F3"] == tricky


def test_dates() -> None:
    stamp = parse_datetime("20261129083000+0800", "OBR^1^36")
    assert stamp is not None and stamp.utcoffset() is not None and stamp.hour == 8
    assert parse_datetime("", "x") is None
    with pytest.raises(MessageError):
        parse_datetime("tomorrow", "OBR^1^36")


def test_prepare_addresses_the_message_to_the_destination() -> None:
    destination = Destination(
        name="HIS", host="h", port=1, receiving_application="HISAPP", charset="GBK"
    )
    text, kind, control_id = prepare(
        "MSH|^~\\&|PACS||||||ORM^O01||P|2.3.1\rPID|1||P1\r", destination
    )
    parsed = hl7.parse(text)
    assert kind == "ORM^O01" and parsed["MSH.F10"] == control_id and control_id
    assert parsed["MSH.F5"] == "HISAPP" and parsed["MSH.F18"] == "GB 18030-2000"
    assert parsed["MSH.F7"]
