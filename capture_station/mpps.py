"""Modality Performed Procedure Step, as any modality reports it: N-CREATE IN PROGRESS at the
exam's first capture, N-SET COMPLETED or DISCONTINUED (with a reason) when it ends, to the
core's MPPS SCP, so the RIS status moves. The sender thread sends them (:mod:`sender`); here
the datasets and the two exchanges."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from pydicom import Dataset
from pydicom.uid import generate_uid
from pynetdicom.sop_class import ModalityPerformedProcedureStep

from capture_station.contract import ExamContext, StationIdentity
from capture_station.spool import Step

IN_PROGRESS, COMPLETED, DISCONTINUED = "IN PROGRESS", "COMPLETED", "DISCONTINUED"
MODALITY = {"endoscopy": "ES", "ultrasound": "US", "photo": "XC"}
# CID 9300 "Procedure Discontinuation Reasons": the on-screen reasons' codes.
REASONS = {
    "patient_refused": ("110500", "Doctor canceled procedure"),
    "equipment_failure": ("110501", "Equipment failure"),
    "patient_condition": ("110503", "Patient died"),
    "other": ("110514", "Incorrect worklist entry selected"),
}
REASON_TEXT = {
    "patient_refused": "Patient refused",
    "equipment_failure": "Equipment failure",
    "patient_condition": "Patient condition",
    "other": "Other",
}


class StepRefused(RuntimeError):
    """The MPPS SCP answered with a failure status: kept and tried again."""


def new_step(exam: ExamContext, started_at: str) -> Step:
    return Step(uid=generate_uid(), exam=exam, started_at=started_at)


def _date_time(iso: str) -> tuple[str, str]:
    """DA and TM of an ISO moment in its own (the hospital's) offset, as a modality's clock."""
    at = datetime.fromisoformat(iso)
    return at.strftime("%Y%m%d"), at.strftime("%H%M%S")


def create_dataset(step: Step, station: StationIdentity) -> Dataset:
    exam = step.exam
    ds = Dataset()
    scheduled = Dataset()
    scheduled.StudyInstanceUID = exam.study_instance_uid
    scheduled.AccessionNumber = exam.accession_number
    scheduled.RequestedProcedureID = ""
    scheduled.ScheduledProcedureStepID = exam.scheduled_step_id
    scheduled.RequestedProcedureDescription = exam.requested_procedure
    ds.ScheduledStepAttributesSequence = [scheduled]
    ds.PatientName = exam.patient_name
    ds.PatientID = exam.patient_id
    ds.PatientBirthDate = exam.birth_date.replace("-", "")
    ds.PatientSex = exam.sex
    ds.PerformedProcedureStepID = step.uid.split(".")[-1][-16:]
    ds.PerformedStationAETitle = station.ae_title
    ds.PerformedStationName = station.station_name
    day, time = _date_time(step.started_at)
    ds.PerformedProcedureStepStartDate = day
    ds.PerformedProcedureStepStartTime = time
    ds.PerformedProcedureStepEndDate = ""
    ds.PerformedProcedureStepEndTime = ""
    ds.PerformedProcedureStepStatus = IN_PROGRESS
    ds.PerformedProcedureStepDescription = exam.requested_procedure
    ds.Modality = exam.modality or MODALITY[station.department]
    ds.StudyID = ""
    ds.PerformedSeriesSequence = []
    ds.SpecificCharacterSet = "ISO_IR 192"
    return ds


def set_dataset(step: Step, station: StationIdentity) -> Dataset:
    ds = Dataset()
    ds.SpecificCharacterSet = "ISO_IR 192"
    ds.PerformedProcedureStepStatus = step.end_status
    day, time = _date_time(step.ended_at)
    ds.PerformedProcedureStepEndDate = day
    ds.PerformedProcedureStepEndTime = time
    if step.end_status == DISCONTINUED:
        code, meaning = REASONS.get(step.reason, REASONS["other"])
        reason = Dataset()
        reason.CodeValue = code
        reason.CodingSchemeDesignator = "DCM"
        reason.CodeMeaning = REASON_TEXT.get(step.reason, meaning)
        ds.PerformedProcedureStepDiscontinuationReasonCodeSequence = [reason]
    performed = []
    for series_uid, images in step.series.items():
        series = Dataset()
        series.SeriesInstanceUID = series_uid
        series.PerformingPhysicianName = station.operator
        series.OperatorsName = station.operator
        series.ProtocolName = step.exam.requested_procedure or "capture"
        series.SeriesDescription = ""
        series.RetrieveAETitle = ""
        series.ReferencedImageSequence = [_reference(uid) for uid in images]
        performed.append(series)
    ds.PerformedSeriesSequence = performed
    return ds


def _reference(uid: str) -> Dataset:
    item = Dataset()
    item.ReferencedSOPInstanceUID = uid
    return item


def send_create(assoc: Any, step: Step, station: StationIdentity) -> None:
    """N-CREATE; a duplicate (0x0111: a resend after a crash the core already has) is fine."""
    status, _ = assoc.send_n_create(
        create_dataset(step, station), ModalityPerformedProcedureStep, step.uid
    )
    code = int(getattr(status, "Status", -1))
    if code not in (0x0000, 0x0111):
        raise StepRefused(f"MPPS N-CREATE {step.uid}: status 0x{code & 0xFFFF:04X}")


def send_set(assoc: Any, step: Step, station: StationIdentity) -> None:
    status, _ = assoc.send_n_set(
        set_dataset(step, station), ModalityPerformedProcedureStep, step.uid
    )
    code = int(getattr(status, "Status", -1))
    if code != 0x0000:
        raise StepRefused(f"MPPS N-SET {step.uid}: status 0x{code & 0xFFFF:04X}")
