"""Checks of what registrars and the HIS type in: resident ID card numbers (GB 11643-1999),
phone numbers, birth dates, sex. Each failure is a :class:`RisError` that says what is wrong.
The registration page runs the same ID card and birth date checks before it sends (its
``register.js``), so a registrar hears of a typing mistake at once."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date

from core_server import clock
from core_server.ris.models import RisError

_WEIGHTS = (7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2)
_CHECK = "10X98765432"
_MOBILE = re.compile(r"^(?:\+?86[- ]?)?1[3-9]\d{9}$")
# Landline with area code (010, 0755...), optional hyphen and extension.
_LANDLINE = re.compile(r"^0\d{2,3}-?\d{7,8}(?:-\d{1,6})?$")


@dataclass(frozen=True)
class IdCard:
    number: str
    birth_date: date
    sex: str  # M or F (the 17th digit: odd for men)
    region: str  # the 6-digit administrative division code


def check_digit(first17: str) -> str:
    return _CHECK[sum(int(d) * w for d, w in zip(first17, _WEIGHTS, strict=True)) % 11]


def parse_id_card(number: str, *, today: date | None = None) -> IdCard:
    """Check an 18-digit resident ID card number: digits, birth date, check digit (ISO 7064
    MOD 11-2). The old 15-digit cards stopped being valid in 2013 and are refused."""
    value = number.strip().upper()
    if not re.fullmatch(r"\d{17}[\dX]", value):
        raise RisError("ris.patient.card_length", number=number)
    try:
        born = date(int(value[6:10]), int(value[10:12]), int(value[12:14]))
    except ValueError:
        raise RisError("ris.patient.card_birth_date", number=number) from None
    if born > (today or clock.today()) or born.year < 1880:
        raise RisError("ris.patient.card_birth_date", number=number)
    if check_digit(value[:17]) != value[17]:
        raise RisError("ris.patient.card_check_digit", number=number)
    return IdCard(value, born, "M" if int(value[16]) % 2 else "F", value[:6])


def normalize_phone(phone: str) -> str:
    """A mobile (11 digits from 13x-19x, optional +86) or landline (area code, number,
    extension) number with spaces removed; empty stays empty."""
    value = re.sub(r"[\s()]", "", phone)
    if not value:
        return ""
    if _MOBILE.match(value) or _LANDLINE.match(value):
        return value
    raise RisError("ris.patient.phone_invalid", phone=phone)


def check_birth_date(born: date | None, *, today: date | None = None) -> None:
    if born is None:
        return
    today = today or clock.today()  # the hospital's today: a baby born there after 16:00 UTC
    if born > today:
        raise RisError("ris.patient.birth_date_future", birth_date=born.isoformat())
    if born.year < 1880:
        raise RisError("ris.patient.birth_date_early", birth_date=born.isoformat())


def normalize_sex(sex: str) -> str:
    value = sex.strip().upper()
    aliases = {"男": "M", "女": "F", "MALE": "M", "FEMALE": "F", "U": "O", "未知": "O"}
    value = aliases.get(value, value)
    if value not in ("", "M", "F", "O"):
        raise RisError("ris.patient.sex_invalid", sex=sex)
    return value
