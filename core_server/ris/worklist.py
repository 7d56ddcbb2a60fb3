"""Modality Worklist matching: which scheduled procedure steps a C-FIND on the MWL model
finds, and the attributes it answers with (by DICOM keyword, sequences as lists of dicts).

Matching follows PS3.4 C.2.2.2: single value, ``*``/``?`` wildcards, date and time ranges,
UID lists; person names case-insensitively on any component group, so ``ZHANG*`` and ``张*``
both find 张三. A query naming the station AE also finds exams of the station's modality not
yet given a room (what a county hospital's registrar usually leaves open).

Dates and times, asked and answered, are the hospital's (DA/TM carry no zone; a modality's
clock is set to the hospital's time), whatever zone the server runs in.
"""

from __future__ import annotations

import functools
import operator
import re
from collections.abc import Iterator, Mapping
from datetime import date, datetime, time
from typing import Any

from sqlalchemy import Connection, or_, select

from core_server import clock, db
from core_server.ris import person, records, status
from core_server.ris.base import RisCore
from core_server.ris.models import RisError, WorklistItem
from core_server.ris.tables import ris_exams, ris_orders, ris_patients, ris_procedures, ris_rooms

CODING_SCHEME = "99RIS"  # private coding scheme of this RIS's exam items


def find(conn: Connection, keys: Mapping[str, str]) -> list[WorklistItem]:
    query = (
        records.exam_query()
        .add_columns(
            ris_patients.c.birth_date.label("patient_birth_date"),
            ris_patients.c.sex.label("patient_sex"),
            ris_procedures.c.name_en.label("procedure_name_en"),  # for the ASCII copy
        )
        .outerjoin(ris_procedures, ris_procedures.c.code == ris_exams.c.procedure_code)
        .where(ris_exams.c.status.in_(status.ON_WORKLIST))
    )
    station = _value(keys, "ScheduledStationAETitle")
    if station and not _wild(station):
        modalities = [
            m
            for (m,) in conn.execute(
                select(ris_rooms.c.modality).where(ris_rooms.c.station_ae == station)
            )
        ]
        query = query.where(
            or_(
                ris_exams.c.station_ae == station,
                (ris_exams.c.station_ae == "") & ris_exams.c.modality.in_(modalities),
            )
        )
    modality = _value(keys, "Modality")
    if modality and not _wild(modality):
        query = query.where(ris_exams.c.modality == modality)
    day = _value(keys, "ScheduledProcedureStepStartDate")
    if day:
        low, high = _date_range(day)
        if low is not None:
            query = query.where(ris_exams.c.scheduled_at >= low)
        if high is not None:
            query = query.where(ris_exams.c.scheduled_at < high)
    accession = _value(keys, "AccessionNumber")
    if accession and not _wild(accession):
        query = query.where(ris_exams.c.accession_number == accession)
    patient_id = _value(keys, "PatientID")
    if patient_id and not _wild(patient_id):
        query = query.where(ris_patients.c.patient_id == patient_id)
    query = query.order_by(ris_orders.c.emergency.desc(), ris_exams.c.scheduled_at, ris_exams.c.id)
    result = conn.execute(query)
    # Row values by position (a named attribute of a row costs ten times an index).
    columns = list(result.keys())
    pick = operator.itemgetter(*(columns.index(name) for name in _ANSWERED))
    rows = result.all()
    found = []
    for row in rows:
        # The answer straight from the row (the patient's columns are joined in): exam and
        # patient records for 90 answers were a third of a day's query; the exam record
        # is made only when a reader asks (WorklistItem.exam).
        values = pick(row)
        attributes = answer(*values)
        if _matches(keys, attributes):
            # (the ASCII copy is made only if an ASCII-only modality asks: WorklistItem)
            found.append(
                WorklistItem(
                    attributes,
                    row.procedure_name_en or "",
                    functools.partial(records.exam, row),
                )
            )
    return found


# The columns of the query's row an answer reads, in answer()'s order.
_ANSWERED = (
    "scheduled_at", "created_at", "procedure_code", "procedure_name", "modality", "station_ae",
    "room", "scheduled_step_id", "status", "patient_birth_date", "patient_name",
    "patient_name_pinyin", "patient_id", "issuer", "patient_sex", "accession_number",
    "referring_physician", "study_instance_uid", "requested_procedure_id", "priority",
    "body_part",
)  # fmt: skip


@functools.lru_cache(maxsize=8192)
def _dicom_name(name: str, spelled: str) -> str:
    """``ZHANG^SAN=张^三`` from the stored columns (a pure function of them; a modality
    asks for the same day's list every few minutes)."""
    return person.person(name, spelled).dicom()


def answer(  # the columns of _ANSWERED, in order
    scheduled_at: datetime | None,
    created_at: datetime,
    procedure_code: str,
    procedure_name: str,
    modality: str,
    station_ae: str,
    room: str,
    scheduled_step_id: str,
    exam_status: str,
    birth_date: str | None,
    name: str,
    name_pinyin: str,
    patient_id: str,
    issuer: str,
    sex: str,
    accession_number: str,
    referring_physician: str | None,
    study_instance_uid: str,
    requested_procedure_id: str,
    priority: str,
    body_part: str,
) -> dict[str, Any]:
    """The MWL attributes of an exam (its order's and patient's columns joined in)."""
    at = clock.local(scheduled_at or created_at)
    code = {
        "CodeValue": procedure_code,
        "CodingSchemeDesignator": CODING_SCHEME,
        "CodeMeaning": procedure_name,
    }
    step = {
        "Modality": modality,
        "ScheduledStationAETitle": station_ae,
        "ScheduledStationName": room,
        "ScheduledProcedureStepLocation": room,
        "ScheduledProcedureStepStartDate": clock.da(at),
        "ScheduledProcedureStepStartTime": clock.tm(at),
        "ScheduledProcedureStepDescription": procedure_name,
        "ScheduledProcedureStepID": scheduled_step_id,
        "ScheduledProcedureStepStatus": "ARRIVED" if exam_status == "arrived" else "SCHEDULED",
        "ScheduledPerformingPhysicianName": "",
        "ScheduledProtocolCodeSequence": [code],
    }
    return {
        "PatientName": _dicom_name(name, name_pinyin),
        "PatientID": patient_id,
        "IssuerOfPatientID": issuer,
        "PatientBirthDate": clock.da(date.fromisoformat(birth_date)) if birth_date else "",
        "PatientSex": sex,
        "AccessionNumber": accession_number,
        "ReferringPhysicianName": referring_physician or "",
        "StudyInstanceUID": study_instance_uid,
        "RequestedProcedureID": requested_procedure_id,
        "RequestedProcedureDescription": procedure_name,
        "RequestedProcedurePriority": priority,
        "RequestedProcedureCodeSequence": [dict(code)],
        "BodyPartExamined": body_part,
        "PatientState": "",
        "MedicalAlerts": "",
        "ScheduledProcedureStepSequence": [step],
    }


def _value(keys: Mapping[str, str], keyword: str) -> str:
    value = keys.get(keyword)
    return "" if value is None else str(value).strip()


def _wild(value: str) -> bool:
    return "*" in value or "?" in value


def _date_range(value: str) -> tuple[datetime | None, datetime | None]:
    """The moments a DA or DA range names: from the first moment of the first hospital day
    to the first moment after the last."""
    low_text, dash, high_text = value.partition("-")
    try:
        low = _day(low_text) if low_text else None
        high = _day(high_text) if high_text else None
    except ValueError:
        raise RisError("ris.worklist.bad_date", value=value) from None
    if not dash:
        high = low
    return (
        clock.local_day_bounds(low)[0] if low else None,
        clock.local_day_bounds(high)[1] if high else None,
    )


def _day(text: str) -> date:
    return datetime.strptime(text, "%Y%m%d").date()


def _pattern(value: str, *, fold: bool = False) -> re.Pattern[str]:
    regex = "".join(".*" if ch == "*" else "." if ch == "?" else re.escape(ch) for ch in value)
    return re.compile(regex, re.IGNORECASE | re.DOTALL if fold else re.DOTALL)


def _matches(keys: Mapping[str, str], attributes: dict[str, Any]) -> bool:
    step = attributes["ScheduledProcedureStepSequence"][0]
    for keyword, raw in keys.items():
        value = "" if raw is None else str(raw).strip()
        if not value or value == "*":
            continue
        have = attributes.get(keyword, step.get(keyword))
        if have is None or isinstance(have, list):
            continue  # not a matching key of this model, or a sequence: universal
        have = str(have)
        if keyword == "PatientName":
            if not _name_matches(value, have):
                return False
        elif keyword == "ScheduledProcedureStepStartDate":
            continue  # done in SQL
        elif keyword == "ScheduledStationAETitle" and not _wild(value):
            continue  # done in SQL, with the station's modality for exams without a room
        elif keyword == "ScheduledProcedureStepStartTime":
            if not _time_matches(value, have):
                return False
        elif keyword in ("StudyInstanceUID",) and "\\" in value:
            if have not in value.split("\\"):
                return False
        elif not _pattern(value).fullmatch(have):
            return False
    return True


def _name_matches(query: str, name: str) -> bool:
    groups = [g for g in name.split("=") if g]
    for wanted in [g for g in query.split("=") if g]:
        pattern = _pattern(wanted.rstrip("^"), fold=True)
        if not any(pattern.fullmatch(g.rstrip("^")) for g in groups):
            return False
    return True


def _time_matches(value: str, have: str) -> bool:
    def parse(text: str, default: time) -> time:
        text = text.split(".")[0]
        if not text:
            return default
        text = text.ljust(6, "0")
        return time(int(text[:2]), int(text[2:4]), int(text[4:6]))

    try:
        actual = parse(have, time())
        if "-" not in value:
            return parse(value, time()) == actual
        low, _, high = value.partition("-")
        return parse(low, time.min) <= actual <= parse(high, time.max)
    except ValueError:
        raise RisError("ris.worklist.bad_time", value=value) from None


class Worklist(RisCore):
    """The service's Modality Worklist."""

    def worklist(self, keys: Mapping[str, str]) -> Iterator[WorklistItem]:
        """Scheduled procedure steps matching MWL keys (ScheduledStationAETitle, Modality,
        ScheduledProcedureStepStartDate (ranges), PatientID, PatientName, AccessionNumber...),
        given flat: the keys of the Scheduled Procedure Step Sequence's item beside the others."""
        with db.read(self.engine) as conn:
            found = find(conn, keys)
        yield from found
