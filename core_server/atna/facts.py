"""What the archive knows of the studies an audit entry names (patient, accession, SOP classes
and instance counts), read when the message is built, not when the entry was written."""

from __future__ import annotations

import logging
from collections import Counter
from typing import Any

from core_server.archive import Archive
from core_server.atna.messages import Study
from core_server.auth import AuditEvent

log = logging.getLogger(__name__)


def studies_of(archive: Archive, event: AuditEvent) -> list[Study]:
    uids = _study_uids(event)
    return [_study(archive, uid, event.detail) for uid in uids]


def _study_uids(event: AuditEvent) -> list[str]:
    kind, _, value = event.target.partition(":")
    found = [value] if kind == "study" and value else []
    for key in ("study_instance_uid", "study_uid"):
        if isinstance(event.detail.get(key), str):
            found.append(event.detail[key])
    for key in ("study_instance_uids", "study_uids"):
        if isinstance(event.detail.get(key), list):
            found += [str(u) for u in event.detail[key]]
    return list(dict.fromkeys(u for u in found if u))


def _study(archive: Archive, uid: str, detail: dict[str, Any]) -> Study:
    classes: Counter[str] = Counter()
    first: dict[str, Any] = {}
    try:
        for answer in archive.find("IMAGE", {"StudyInstanceUID": uid}):
            first = first or answer
            classes[str(answer.get("SOPClassUID") or "")] += 1
    except Exception:  # a study the archive no longer has (deleted): the UID is still audited
        log.exception("study %s not read for its audit message", uid)
    return Study(
        uid=uid,
        patient_id=str(first.get("PatientID") or detail.get("patient_id") or ""),
        patient_name=str(first.get("PatientName") or ""),
        accession=str(first.get("AccessionNumber") or detail.get("accession_number") or ""),
        sop_classes={k: v for k, v in classes.items() if k},
    )
