"""Prefetch of priors (docs/storage-rules.md): for the exams the RIS has scheduled on a day
(tomorrow, once a day at the settings' ``prefetch_at`` hospital time, or on demand), the
patient's prior studies that are not online are recalled, the newest
``prefetch_per_patient`` of them per patient, so the reading doctor finds them online.

The patient is matched by Patient ID (the RIS's and the archive's are the same number here;
the issuer is left out, as the RIS writes none for most hospitals' own IDs).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import date
from typing import Any

from sqlalchemy import Connection, exists, select

from core_server import clock, db
from core_server.archive import Archive
from core_server.archive import tables as t
from core_server.ris.tables import ris_exams, ris_patients
from core_server.storage.tiers.rules_select import online

log = logging.getLogger(__name__)
BOOKED = ("scheduled", "arrived")


@dataclass
class Prefetched:
    day: str
    patients: int = 0
    studies: int = 0
    instances: int = 0
    failed: int = 0

    def as_json(self) -> dict[str, Any]:
        return dict(self.__dict__)


def scheduled(conn: Connection, day: date) -> dict[str, set[str]]:
    """Patient IDs with exams booked on ``day`` (the hospital's), and those exams' studies."""
    start, end = clock.local_day_bounds(day)
    e, p = ris_exams, ris_patients
    rows = conn.execute(
        select(p.c.patient_id, e.c.study_instance_uid)
        .join(p, p.c.id == e.c.patient_fk)
        .where(e.c.scheduled_at >= start, e.c.scheduled_at < end, e.c.status.in_(BOOKED))
    ).all()
    found: dict[str, set[str]] = {}
    for patient_id, study in rows:
        found.setdefault(patient_id, set()).add(study)
    return found


def priors_not_online(
    conn: Connection, patient_id: str, leave_out: set[str], limit: int
) -> list[str]:
    """The patient's newest ``limit`` studies with an object not online (not the booked
    exams' own)."""
    i, s, st, p = t.instances, t.series, t.studies, t.patients
    gone = exists().where(
        s.c.study_fk == st.c.id, i.c.series_fk == s.c.id, ~online(i.c.sop_instance_uid)
    )
    rows = conn.execute(
        select(st.c.study_instance_uid)
        .join(p, p.c.id == st.c.patient_fk)
        .where(p.c.patient_id == patient_id, gone)
        .order_by(st.c.study_date.desc(), st.c.id.desc())
        .limit(limit + len(leave_out))
    ).scalars()
    return [uid for uid in rows if uid not in leave_out][:limit]


def objects_of(conn: Connection, study_uid: str) -> list[str]:
    i, s, st = t.instances, t.series, t.studies
    return list(
        conn.execute(
            select(i.c.sop_instance_uid)
            .join(s, s.c.id == i.c.series_fk)
            .join(st, st.c.id == s.c.study_fk)
            .where(st.c.study_instance_uid == study_uid, ~online(i.c.sop_instance_uid))
        ).scalars()
    )


def prefetch(archive: Archive, day: date, per_patient: int) -> Prefetched:
    """Recall the priors of ``day``'s booked patients; what was brought back."""
    done = Prefetched(day.isoformat())
    if per_patient <= 0:
        return done
    with db.read(archive.engine) as conn:
        booked = scheduled(conn, day)
        plan = {
            pid: priors_not_online(conn, pid, studies, per_patient)
            for pid, studies in booked.items()
        }
    done.patients = len(booked)
    for patient_id, studies in plan.items():
        for study in studies:
            with db.read(archive.engine) as conn:
                uids = objects_of(conn, study)
            try:
                done.instances += archive.recall(uids, study_instance_uid=study)
                done.studies += 1
            except Exception as e:  # an offline set, an area down: on to the next study
                done.failed += 1
                log.warning("prefetch of %s (patient %s) failed: %s", study, patient_id, e)
    return done
