"""The patient master: registration, update, merge (A40), search, likely duplicates.

Names are kept as received (see :mod:`core_server.ris.person`) and found the same way
whichever way the patient came in (HL7, a DICOM-shaped name, typed at the desk): by full name
or a prefix of it, full pinyin or a prefix, initials, ID, ID card or phone, each from an index.
"""

from __future__ import annotations

import dataclasses
from datetime import date
from typing import Any

from sqlalchemy import Connection, insert, or_, select, update

from core_server import db, pinyin
from core_server.ris import person, records, validation
from core_server.ris.base import RisCore
from core_server.ris.models import Conflict, Patient, PatientIn, RisError
from core_server.ris.tables import ris_exams, ris_orders, ris_patients, ris_visits

# How many likely duplicates a registration is told of at most.
_DUPLICATES_SHOWN = 10


def clean(patient: PatientIn) -> dict[str, Any]:
    """Checked, normalised column values of a patient; an ID card number fills in (or must
    agree with) the birth date and sex."""
    patient_id = patient.patient_id.strip()
    if not patient_id or len(patient_id) > 64 or "\\" in patient_id:
        raise RisError("ris.patient.id_invalid")
    name, spelled = person.received(patient.name, patient.name_pinyin)
    if not name or len(name) > 64:
        raise RisError("ris.patient.name_required", limit=64)
    born, sex = _birth_and_sex(patient)
    spelled = spelled[:128]
    if not spelled.isascii():
        raise RisError("ris.patient.pinyin_not_ascii")
    return {
        "patient_id": patient_id,
        "issuer": patient.issuer.strip(),
        "name": name,
        "name_pinyin": spelled,
        **person.search_columns(name, spelled),
        "id_card_number": patient.id_card_number.strip().upper(),
        "birth_date": born.isoformat() if born else None,
        "sex": sex,
        "phone": validation.normalize_phone(patient.phone),
        "address": patient.address.strip()[:255],
    }


def _birth_and_sex(patient: PatientIn) -> tuple[date | None, str]:
    born = patient.birth_date
    sex = validation.normalize_sex(patient.sex)
    card = patient.id_card_number.strip().upper()
    if card:
        parsed = validation.parse_id_card(card)
        if born is not None and born != parsed.birth_date:
            raise RisError(
                "ris.patient.birth_date_differs_from_card",
                birth_date=born.isoformat(),
                card_birth_date=parsed.birth_date.isoformat(),
            )
        if sex in ("M", "F") and sex != parsed.sex:
            raise RisError("ris.patient.sex_differs_from_card")
        born, sex = parsed.birth_date, sex or parsed.sex
    validation.check_birth_date(born)
    return born, sex


def keep_received_name(values: dict[str, Any], old: Any, given_pinyin: str) -> dict[str, Any]:
    """A registrar re-submitting a patient types the name as shown (王建国): when it reads
    the same as the stored one (HL7 ``王^建国``), the stored components stay, and so does a
    corrected pinyin unless a new one was given."""
    if old is None or values["name_shown"] != old.name_shown:
        return values
    spelled = values["name_pinyin"] if given_pinyin.strip() else old.name_pinyin
    return values | {
        "name": old.name,
        "name_pinyin": spelled,
        **person.search_columns(old.name, spelled),
    }


def upsert(conn: Connection, values: dict[str, Any], given_pinyin: str = "") -> tuple[Any, Any]:
    """Insert the patient or update the one with that ID and issuer: (new row, old row)."""
    old = conn.execute(
        select(ris_patients)
        .where(
            ris_patients.c.patient_id == values["patient_id"],
            ris_patients.c.issuer == values["issuer"],
        )
        .with_for_update()
    ).first()
    stamp = records.now()
    if old is None:
        conn.execute(insert(ris_patients).values(**values, created_at=stamp, updated_at=stamp))
    else:
        if old.merged_into_fk is not None:
            raise Conflict("ris.patient.merged_away", patient_id=values["patient_id"])
        values = keep_received_name(values, old, given_pinyin)
        conn.execute(
            update(ris_patients)
            .where(ris_patients.c.id == old.id)
            .values(**values, updated_at=stamp)
        )
    new = records.patient_row(conn, values["patient_id"], values["issuer"])
    return new, old


def merge(conn: Connection, surviving: Any, merged: Any) -> None:
    if surviving.id == merged.id:
        raise Conflict("ris.patient.merge_into_itself")
    if merged.merged_into_fk is not None:
        raise Conflict("ris.patient.merged_already", patient_id=merged.patient_id)
    if surviving.merged_into_fk is not None:
        raise Conflict("ris.patient.surviving_merged", patient_id=surviving.patient_id)
    for table in (ris_visits, ris_orders, ris_exams):
        conn.execute(
            update(table).where(table.c.patient_fk == merged.id).values(patient_fk=surviving.id)
        )
    conn.execute(
        update(ris_patients)
        .where(ris_patients.c.id == merged.id)
        .values(merged_into_fk=surviving.id, updated_at=records.now())
    )


def text_matches(text: str) -> Any:
    """The registrars' one search box: ID, ID card, phone, name or its prefix (however the
    name was written), full pinyin or its prefix, initials."""
    value = text.strip()
    upper = value.upper()
    shown, spelled = person.query(value)
    terms = [
        ris_patients.c.patient_id == value,
        ris_patients.c.id_card_number == upper,
        ris_patients.c.phone == value,
        db.starts_with(ris_patients.c.name, value),
        db.starts_with(ris_patients.c.name_shown, shown),
        db.starts_with(ris_patients.c.name_initials, upper),
        db.starts_with(ris_patients.c.name_pinyin, upper),
    ]
    if spelled:
        terms.append(db.starts_with(ris_patients.c.name_spelled, spelled))
    return or_(*terms)


def search(
    conn: Connection,
    *,
    patient_id: str = "",
    id_card_number: str = "",
    name: str = "",
    birth_date: date | None = None,
    text: str = "",
    limit: int = 50,
) -> list[Any]:
    query = select(ris_patients).where(ris_patients.c.merged_into_fk.is_(None))
    if patient_id:
        query = query.where(ris_patients.c.patient_id == patient_id.strip())
    if id_card_number:
        query = query.where(ris_patients.c.id_card_number == id_card_number.strip().upper())
    if name:
        shown, spelled = person.query(name)
        if pinyin.is_chinese(shown) or not spelled:
            query = query.where(ris_patients.c.name_shown == shown)
        else:
            query = query.where(ris_patients.c.name_spelled == spelled)
    if birth_date is not None:
        query = query.where(ris_patients.c.birth_date == birth_date.isoformat())
    if text.strip():
        query = query.where(text_matches(text))
    query = query.order_by(ris_patients.c.updated_at.desc()).limit(limit)
    return list(conn.execute(query))


def duplicates(conn: Connection, values: dict[str, Any]) -> list[Any]:
    """Other patients that are likely the same person as ``values`` (clean's columns): the
    same name and birth date, the same ID card number, or the same phone and name."""
    same_name = ris_patients.c.name_shown == values["name_shown"]
    alike = []
    if values["birth_date"]:
        alike.append(same_name & (ris_patients.c.birth_date == values["birth_date"]))
    if values["id_card_number"]:
        alike.append(ris_patients.c.id_card_number == values["id_card_number"])
    if values["phone"]:
        alike.append(same_name & (ris_patients.c.phone == values["phone"]))
    if not alike:
        return []
    query = (
        select(ris_patients)
        .where(
            ris_patients.c.merged_into_fk.is_(None),
            or_(*alike),
            ~(
                (ris_patients.c.patient_id == values["patient_id"])
                & (ris_patients.c.issuer == values["issuer"])
            ),
        )
        .order_by(ris_patients.c.updated_at.desc())
        .limit(_DUPLICATES_SHOWN)
    )
    return list(conn.execute(query))


class Patients(RisCore):
    """The service's patient methods."""

    def register_patient(
        self, patient: PatientIn, *, username: str, check_duplicates: bool = False
    ) -> Patient:
        """Create the patient, or update it when ``patient_id``/``issuer`` is known (A01/A04
        on a known patient is an update). The pinyin name is computed when not given.

        With ``check_duplicates`` (the registration desk), a new patient that is likely
        someone already registered is refused (:class:`Conflict`
        ``ris.patient.likely_duplicate``) with the ``candidates``: the desk asks, then
        registers again without the check."""
        values = clean(patient)
        with self._write() as conn:
            if check_duplicates and not _known(conn, values):
                found = duplicates(conn, values)
                if found:
                    raise Conflict(
                        "ris.patient.likely_duplicate",
                        candidates=[records.to_patient(conn, r).as_dict() for r in found],
                    )
            row, old = upsert(conn, values, patient.name_pinyin)
            registered = records.to_patient(conn, row)
        if old is not None:
            self._propagate(registered, old, username)
        return registered

    def likely_duplicates(self, patient: PatientIn) -> list[Patient]:
        """Registered patients that are likely the person in ``patient`` (another ID)."""
        values = clean(patient)
        with db.read(self.engine) as conn:
            return [records.to_patient(conn, r) for r in duplicates(conn, values)]

    def update_patient(
        self, patient_id: str, issuer: str, patient: PatientIn, *, username: str
    ) -> Patient:
        """Change a patient's demographics (A08). The change reaches the worklist at once and
        the stored images through ``Archive.correct`` (IHE PIR). The patient's ID itself
        changes only by a merge."""
        values = clean(dataclasses.replace(patient, patient_id=patient_id, issuer=issuer))
        with self._write() as conn:
            old = records.patient_row(conn, patient_id, issuer)
            row, _ = upsert(conn, values, patient.name_pinyin)
            updated = records.to_patient(conn, row)
        self._propagate(updated, old, username)
        return updated

    def _propagate(self, patient: Patient, old: Any, username: str) -> None:
        before = records.patient(old)
        if self._identity(before) == self._identity(patient):
            return
        self._correct(
            {"PatientID": patient.patient_id},
            self._identity(patient),
            reason="patient demographics updated",
            username=username,
        )

    def merge_patients(
        self,
        surviving: tuple[str, str],
        merged: tuple[str, str],
        *,
        username: str,
    ) -> Patient:
        """Merge patient ``merged`` (ID, issuer) into ``surviving`` (A40): its visits, orders
        and exams move over, it is kept as merged, and its stored images are re-identified.
        Merging a patient into itself is refused."""
        if tuple(surviving) == tuple(merged):
            raise Conflict("ris.patient.merge_into_itself")
        with self._write() as conn:
            keep = records.patient_row(conn, *surviving)
            gone = records.patient_row(conn, *merged)
            merge(conn, keep, gone)
            result = records.to_patient(conn, keep)
        self._correct(
            {"PatientID": merged[0]},
            self._identity(result),
            reason=f"patient {merged[0]} merged into {surviving[0]}",
            username=username,
        )
        return result

    def find_patients(
        self,
        *,
        patient_id: str = "",
        id_card_number: str = "",
        name: str = "",
        birth_date: date | None = None,
        text: str = "",
        limit: int = 50,
    ) -> list[Patient]:
        """Existing patients by ID, ID-card number, or name (Chinese, or pinyin) + birth date;
        ``text`` searches ID, card number, phone, name, pinyin and initials at once."""
        with db.read(self.engine) as conn:
            rows = search(
                conn,
                patient_id=patient_id,
                id_card_number=id_card_number,
                name=name,
                birth_date=birth_date,
                text=text,
                limit=limit,
            )
            return [records.to_patient(conn, r) for r in rows]


def _known(conn: Connection, values: dict[str, Any]) -> bool:
    return (
        conn.execute(
            select(ris_patients.c.id).where(
                ris_patients.c.patient_id == values["patient_id"],
                ris_patients.c.issuer == values["issuer"],
            )
        ).first()
        is not None
    )
