"""The one person-name type: every shape a name arrives in reads the same way."""

from __future__ import annotations

import pytest

from core_server import names
from core_server.names import NameGroup, PersonName

# (as received, shown, DICOM form, pinyin, masked)
CASES = [
    ("王^建国", "王建国", "WANG^JIANGUO=王^建国", "WANG^JIANGUO", "王*国"),  # HL7 PID-5
    ("WANG^JIANGUO=王^建国", "王建国", "WANG^JIANGUO=王^建国", "WANG^JIANGUO", "王*国"),  # DICOM
    ("王建国", "王建国", "WANG^JIANGUO=王^建国", "WANG^JIANGUO", "王*国"),  # typed at the desk
    ("=王^建国", "王建国", "WANG^JIANGUO=王^建国", "WANG^JIANGUO", "王*国"),
    ("单^雪梅", "单雪梅", "SHAN^XUEMEI=单^雪梅", "SHAN^XUEMEI", "单*梅"),  # surname table
    ("欧阳娜娜", "欧阳娜娜", "OUYANG^NANA=欧阳^娜娜", "OUYANG^NANA", "欧**娜"),  # compound
    ("张三", "张三", "ZHANG^SAN=张^三", "ZHANG^SAN", "张*"),
    ("WANG^JIANGUO", "WANG JIANGUO", "WANG^JIANGUO", "WANG^JIANGUO", "W*** J******"),
    ("Smith^John", "John Smith", "Smith^John", "SMITH^JOHN", "J*** S****"),
    ("John Smith", "John Smith", "John Smith", "JOHN SMITH", "J*** S****"),
]


@pytest.mark.parametrize(("received", "shown", "dicom", "spelled", "masked"), CASES)
def test_every_shape_reads_the_same(
    received: str, shown: str, dicom: str, spelled: str, masked: str
) -> None:
    name = PersonName.parse(received)
    assert name.display() == shown == str(name) == names.display(received)
    assert "^" not in name.display()
    assert name.dicom() == dicom
    assert name.pinyin() == spelled
    assert name.masked() == masked


def test_components_are_kept() -> None:
    name = PersonName.parse("WANG^JIANGUO=王^建国")
    assert (name.family, name.given) == ("王", "建国")
    assert name.ideographic == NameGroup("王", "建国")
    assert name.alphabetic == NameGroup("WANG", "JIANGUO")
    assert name.hl7() == ("王", "建国")
    assert PersonName.parse("Smith^John").hl7() == ("Smith", "John")
    assert name.is_chinese and not PersonName.parse("Smith^John").is_chinese


def test_a_typed_name_with_a_separator_dot_and_spaces() -> None:
    uyghur = PersonName.parse("买买提·艾力")
    assert uyghur.display() == "买买提·艾力"
    assert PersonName.parse(" 王 建国 ").display() == "王建国"


def test_pinyin_is_set_as_a_registrar_types_it() -> None:
    name = PersonName.parse("单雪梅").with_pinyin("shan xuemei")
    assert name.pinyin() == "SHAN^XUEMEI"
    assert name.dicom() == "SHAN^XUEMEI=单^雪梅"
    assert PersonName.parse("王^建国").with_pinyin("WANG^JIAN GUO").pinyin() == "WANG^JIAN GUO"


def test_empty_and_already_parsed() -> None:
    assert not PersonName.parse(None) and not PersonName.parse("  ")
    assert PersonName.parse("").display() == "" and PersonName.parse("").dicom() == ""
    name = PersonName.of("王", "建国")
    assert PersonName.parse(name) is name and name.display() == "王建国"
    assert names.mask_text("张*") == "张*"  # already masked stays masked
