"""Modality Performed Procedure Step SCP (N-CREATE, N-SET): what the modality reports it is
doing moves the RIS exam (IN PROGRESS -> in progress, COMPLETED -> completed, DISCONTINUED ->
back to arrived). The RIS records the step before the response goes out."""

from __future__ import annotations

import logging
from typing import Any

from pydicom import Dataset

from core_server.ris import Conflict, NotFound, Ris, RisError

log = logging.getLogger(__name__)

SUCCESS = 0x0000
PROCESSING_FAILURE = 0x0110
DUPLICATE_INSTANCE = 0x0111
NO_SUCH_INSTANCE = 0x0112
INVALID_ATTRIBUTE_VALUE = 0x0106
NOT_AUTHORIZED = 0x0124
# From the Scheduled Step Attributes Sequence: what ties the step to the exam.
_SCHEDULED = (
    "AccessionNumber",
    "RequestedProcedureID",
    "ScheduledProcedureStepID",
    "StudyInstanceUID",
)
_TOP = (
    "PerformedProcedureStepStatus",
    "PerformedProcedureStepID",
    "PerformedProcedureStepStartDate",
    "PerformedProcedureStepStartTime",
    "PerformedProcedureStepEndDate",
    "PerformedProcedureStepEndTime",
    "PerformedProcedureStepDescription",
    "PerformedStationAETitle",
    "PerformedStationName",
    "Modality",
    "PatientID",
    "StudyID",
)


def attributes(ds: Dataset) -> dict[str, Any]:
    """The flat mapping the RIS takes: top-level keys, the first scheduled step's references,
    the discontinuation reason and how many images the performed series hold."""
    flat: dict[str, Any] = {k: str(ds.get(k)) for k in _TOP if ds.get(k) not in (None, "")}
    for item in ds.get("ScheduledStepAttributesSequence") or []:
        flat |= {k: str(item.get(k)) for k in _SCHEDULED if item.get(k) not in (None, "")}
        break
    for item in ds.get("PerformedProcedureStepDiscontinuationReasonCodeSequence") or []:
        flat["PerformedProcedureStepDiscontinuationReason"] = str(
            item.get("CodeMeaning") or item.get("CodeValue") or ""
        )
        break
    series = ds.get("PerformedSeriesSequence")
    if series is not None:
        flat["PerformedSeries"] = [
            {
                "SeriesInstanceUID": str(s.get("SeriesInstanceUID", "")),
                "Images": len(s.get("ReferencedImageSequence") or []),
            }
            for s in series
        ]
    return flat


def create(ris: Ris, uid: str, ds: Dataset, station_ae: str) -> tuple[int, Dataset | None]:
    if not uid:
        return INVALID_ATTRIBUTE_VALUE, None
    try:
        ris.performed_step_created(uid, attributes(ds), station_ae=station_ae)
    except Conflict as exc:
        log.warning("MPPS N-CREATE %s from %s refused: %s", uid, station_ae, exc)
        return DUPLICATE_INSTANCE, None
    except RisError as exc:
        log.warning("MPPS N-CREATE %s from %s refused: %s", uid, station_ae, exc)
        return INVALID_ATTRIBUTE_VALUE, None
    except Exception:
        log.exception("MPPS N-CREATE %s from %s failed", uid, station_ae)
        return PROCESSING_FAILURE, None
    return SUCCESS, ds


def set_(ris: Ris, uid: str, ds: Dataset, station_ae: str) -> tuple[int, Dataset | None]:
    try:
        ris.performed_step_set(uid, attributes(ds), station_ae=station_ae)
    except NotFound as exc:
        log.warning("MPPS N-SET %s from %s: %s", uid, station_ae, exc)
        return NO_SUCH_INSTANCE, None
    except RisError as exc:
        log.warning("MPPS N-SET %s from %s refused: %s", uid, station_ae, exc)
        return PROCESSING_FAILURE, None
    except Exception:
        log.exception("MPPS N-SET %s from %s failed", uid, station_ae)
        return PROCESSING_FAILURE, None
    return SUCCESS, ds
