"""ID card numbers and phone numbers (no database); pinyin names are in
tests/core_server/test_pinyin.py."""

from __future__ import annotations

from datetime import date

import pytest

from core_server.ris import RisError
from core_server.ris.validation import check_digit, normalize_phone, parse_id_card


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
