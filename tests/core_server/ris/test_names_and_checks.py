"""Pinyin names with the surname table, ID card numbers, phone numbers (no database)."""

from __future__ import annotations

from datetime import date

import pytest

from core_server.ris import RisError
from core_server.ris.pinyin import dicom_person_name, initials, split_name, to_pinyin
from core_server.ris.validation import check_digit, normalize_phone, parse_id_card


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        ("张三", "ZHANG^SAN"),
        ("单田芳", "SHAN^TIANFANG"),  # pypinyin alone: DAN
        ("曾国藩", "ZENG^GUOFAN"),  # CENG
        ("区志航", "OU^ZHIHANG"),  # QU
        ("解缙", "XIE^JIN"),  # JIE
        ("仇英", "QIU^YING"),  # CHOU
        ("朴树", "PIAO^SHU"),  # PU
        ("查良镛", "ZHA^LIANGYONG"),  # CHA
        ("吕布", "LYU^BU"),  # ü as YU, the passport spelling
        ("欧阳娜娜", "OUYANG^NANA"),  # compound surname
        ("司马相如", "SIMA^XIANGRU"),
        ("女娲", "NYU^WA"),
        ("John Smith", "JOHN^SMITH"),
    ],
)
def test_pinyin_of_names_uses_the_surname_table(name: str, expected: str) -> None:
    assert to_pinyin(name) == expected


def test_dicom_person_name_and_initials() -> None:
    assert dicom_person_name("张三") == "ZHANG^SAN=张^三"
    assert dicom_person_name("欧阳娜娜") == "OUYANG^NANA=欧阳^娜娜"
    assert dicom_person_name("John Smith") == "JOHN^SMITH"
    assert split_name("诸葛亮") == ("诸葛", "亮")
    assert initials("张三丰") == "ZSF"
    assert initials("欧阳娜娜") == "OYNN"
    assert initials("单田芳") == "STF"


def test_id_card_number_check_digit_birth_date_and_sex() -> None:
    card = parse_id_card("11010519491231002x")
    assert card.number == "11010519491231002X"
    assert card.birth_date == date(1949, 12, 31)
    assert card.sex == "F"
    first17 = "44030619900307451"
    good = first17 + check_digit(first17)
    assert parse_id_card(good).sex == "M"
    wrong = first17 + ("0" if good[-1] != "0" else "1")
    with pytest.raises(RisError, match="check digit"):
        parse_id_card(wrong)
    with pytest.raises(RisError, match="18"):
        parse_id_card("110105490101002")  # old 15-digit card
    with pytest.raises(RisError, match="birth date"):
        parse_id_card("110105" + "19491331" + "002" + "0")


def test_phone_numbers() -> None:
    assert normalize_phone("138 0013 8000") == "13800138000"
    assert normalize_phone("+86 13800138000") == "+8613800138000"
    assert normalize_phone("0755-83881234-12") == "0755-83881234-12"
    assert normalize_phone("") == ""
    for bad in ("12345", "1280013800", "abc"):
        with pytest.raises(RisError, match="phone"):
            normalize_phone(bad)
