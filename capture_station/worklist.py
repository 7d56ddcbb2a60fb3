"""The room's worklist and the exam the queue calls in it, and emergency patients.

- REST (default): ``GET /api/ris/exams?day=&room=`` with the device key; the room is the
  option's, else the one the core bound this device to (``/api/queueing/devices/me``).
- DICOM MWL C-FIND by the station's AE title (``worklist_source = "mwl"``), as a modality asks.
- The exam being called: the queue's ``ticket.*``/``room.*`` events for the room (over the
  core's WebSocket) make the wiring read the room's state; its current ticket names the exam.
- An emergency without an order: a temporary patient (``ExamContext.temporary``) with IDs the
  RIS reconciliation links later to the real patient and order.
"""

from __future__ import annotations

import logging
import secrets
import socket
from datetime import date, datetime
from typing import Any

from pydicom import Dataset
from pydicom.uid import generate_uid
from pynetdicom import AE, evt
from pynetdicom.sop_class import ModalityWorklistInformationFind

from capture_station.contract import ExamContext, StationIdentity
from device_kit.client import CoreClient

log = logging.getLogger(__name__)

OPEN_STATUSES = ("scheduled", "arrived", "in_progress")
MODALITY = {"endoscopy": "ES", "ultrasound": "US", "photo": "XC"}


def person_name(name: str, pinyin: str = "") -> str:
    """A DICOM PN with its ideographic group: ``WANG^JIANGUO=王^建国``."""
    if "=" in name or not pinyin or pinyin == name:
        return name
    return f"{pinyin}={name}"


def from_exam(exam: dict[str, Any]) -> ExamContext:
    """One exam of the core's REST answer (``Exam.as_dict``)."""
    birth = str(exam.get("birth_date") or "")
    return ExamContext(
        accession_number=str(exam.get("accession_number") or ""),
        patient_id=str(exam.get("patient_id") or ""),
        patient_name=person_name(
            str(exam.get("patient_name") or ""), str(exam.get("patient_name_pinyin") or "")
        ),
        birth_date=birth,
        sex=str(exam.get("sex") or ""),
        study_instance_uid=str(exam.get("study_instance_uid") or ""),
        requested_procedure=str(exam.get("procedure_name") or ""),
        referring_physician=str(exam.get("referring_physician") or ""),
        body_part=str(exam.get("body_part") or ""),
        modality=str(exam.get("modality") or "ES"),
        exam_id=exam.get("id"),
        scheduled_step_id=str(exam.get("scheduled_step_id") or ""),
    )


def room_of(client: CoreClient, room: str) -> str:
    if room:
        return room
    me = client.get("/api/queueing/devices/me") or {}
    return str(me.get("room") or "")


def fetch_rest(client: CoreClient, room: str, day: date) -> list[ExamContext]:
    """The open exams of the hospital day in the room (every room when the device has none)."""
    query = f"/api/ris/exams?day={day.isoformat()}"
    room = room_of(client, room)
    if room:
        query += f"&room={room}"
    exams = [e for e in client.get(query) or [] if e.get("status") in OPEN_STATUSES]
    return [from_exam(e) for e in exams]


def called_exam(client: CoreClient, room: str) -> tuple[int | None, str]:
    """The exam of the ticket now called or under way in the room: (exam id, accession)."""
    room = room_of(client, room)
    if not room:
        return None, ""
    state = client.get(f"/api/queueing/rooms/{room}/state") or {}
    current = state.get("current") or {}
    return current.get("exam_id"), str(current.get("accession") or "")


def _nodelay(event: evt.Event) -> None:
    sock = event.assoc.dul.socket.socket if event.assoc.dul.socket else None
    if sock is not None:
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)


def _mwl_query(station: StationIdentity, day: date) -> Dataset:
    query = Dataset()
    query.SpecificCharacterSet = "ISO_IR 192"
    for keyword in (
        "PatientName",
        "PatientID",
        "PatientBirthDate",
        "PatientSex",
        "AccessionNumber",
        "StudyInstanceUID",
        "RequestedProcedureDescription",
        "RequestedProcedureID",
        "ReferringPhysicianName",
    ):
        setattr(query, keyword, "")
    step = Dataset()
    step.ScheduledStationAETitle = station.ae_title
    step.ScheduledProcedureStepStartDate = day.strftime("%Y%m%d")
    step.Modality = ""
    step.ScheduledProcedureStepID = ""
    step.ScheduledProcedureStepDescription = ""
    query.ScheduledProcedureStepSequence = [step]
    return query


def from_mwl(ds: Dataset) -> ExamContext:
    step = (ds.get("ScheduledProcedureStepSequence") or [Dataset()])[0]
    birth = str(ds.get("PatientBirthDate") or "")
    return ExamContext(
        accession_number=str(ds.get("AccessionNumber") or ""),
        patient_id=str(ds.get("PatientID") or ""),
        patient_name=str(ds.get("PatientName") or ""),
        birth_date=f"{birth[:4]}-{birth[4:6]}-{birth[6:8]}" if len(birth) == 8 else "",
        sex=str(ds.get("PatientSex") or ""),
        study_instance_uid=str(ds.get("StudyInstanceUID") or ""),
        requested_procedure=str(ds.get("RequestedProcedureDescription") or ""),
        referring_physician=str(ds.get("ReferringPhysicianName") or ""),
        modality=str(step.get("Modality") or "ES"),
        scheduled_step_id=str(step.get("ScheduledProcedureStepID") or ""),
    )


def fetch_mwl(
    station: StationIdentity, host: str, port: int, called_ae: str, day: date, timeout: float = 10
) -> list[ExamContext]:
    """DICOM Modality Worklist C-FIND by the station's AE title for the day."""
    ae = AE(ae_title=station.ae_title)
    ae.acse_timeout = ae.dimse_timeout = ae.network_timeout = timeout
    ae.add_requested_context(ModalityWorklistInformationFind)
    assoc = ae.associate(
        host, port, ae_title=called_ae, evt_handlers=[(evt.EVT_CONN_OPEN, _nodelay)]
    )
    if not assoc.is_established:
        raise ConnectionError(f"no MWL association with {called_ae}@{host}:{port}")
    found: list[ExamContext] = []
    try:
        query = _mwl_query(station, day)
        for status, identifier in assoc.send_c_find(query, ModalityWorklistInformationFind):
            code = int(getattr(status, "Status", -1))
            if code in (0xFF00, 0xFF01) and identifier is not None:
                found.append(from_mwl(identifier))
            elif code not in (0x0000, 0xFF00, 0xFF01):
                raise ConnectionError(f"MWL C-FIND status 0x{code & 0xFFFF:04X}")
    finally:
        assoc.release()
    return found


def emergency_exam(station: StationIdentity, at: datetime) -> ExamContext:
    """A temporary patient for an emergency without an order. The IDs say where and when it
    was made (``TMP``/``EM`` + station + local time) plus a random tail, unique across
    stations; the RIS reconciliation later links its images to the real patient and order."""
    stamp = at.strftime("%Y%m%d%H%M%S")
    tail = secrets.token_hex(2).upper()
    station_part = "".join(ch for ch in station.station_name.upper() if ch.isalnum())[:6]
    return ExamContext(
        accession_number=f"EM{stamp[2:]}{tail}"[:16],
        patient_id=f"TMP-{station_part}-{stamp}-{tail}",
        patient_name=f"EMERGENCY^{stamp[8:12]}=急诊^{stamp[8:12]}",
        study_instance_uid=generate_uid(),
        requested_procedure="急诊",
        modality=MODALITY[station.department],
        temporary=True,
    )
