"""Which objects a rule touches: pure queries over the archive's index (read only), the RIS
exams linked to its studies (status, department) and the copy index, shared by the dry run
and the runner (docs/storage-rules.md).

The storage layer sits above ``archive`` and ``ris``; like ``discs.eligibility`` it reads their
tables here rather than loading every object through their services, because a rule may
match millions of objects. Which objects are online is asked in one place
(:func:`online`).
"""

from __future__ import annotations

import shutil
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import (
    Connection,
    Select,
    and_,
    exists,
    func,
    select,
    union_all,
)

from core_server import clock, names
from core_server.archive import tables as t
from core_server.archive.areas import tables as at
from core_server.ris.tables import ris_exam_studies, ris_exams
from core_server.storage.tiers.rules import Conditions, Rule
from core_server.storage.tiers.rules_tables import storage_rule_tasks as tasks
from core_server.storage.tiers.rules_tables import storage_study_reads as reads

OPEN = ("pending", "running", "dead")  # a task in these states is not made again
Usage = Callable[[], tuple[int, int]]  # (used, total) bytes of the online area


def disk_usage(root: Any) -> Usage:
    def usage() -> tuple[int, int]:
        got = shutil.disk_usage(root)
        return got.used, got.total

    return usage


def online(sop_uid: Any) -> Any:
    """The object's online file is there (A's index of objects not online)."""
    n = at.archive_not_online
    return ~exists().where(n.c.sop_instance_uid == sop_uid)


def _verified_on(sop_uid: Any, area: str) -> Any:
    c = at.archive_copies
    return exists().where(
        c.c.sop_instance_uid == sop_uid, c.c.area == area, c.c.verified_at.is_not(None)
    )


def _like(pattern: str) -> str:
    escaped = pattern.upper().replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    return escaped.replace("*", "%").replace("?", "_")


def _exam_of_study() -> Any:
    """Each study with the status and department of its RIS exam (its own study UID, or one
    linked to it by reconciliation)."""
    e, es = ris_exams, ris_exam_studies
    own = select(e.c.study_instance_uid.label("uid"), e.c.status, e.c.department)
    linked = select(es.c.study_instance_uid.label("uid"), e.c.status, e.c.department).join(
        e, e.c.id == es.c.exam_fk
    )
    return union_all(own, linked).subquery("study_exam")


def condition_clauses(cond: Conditions, now: datetime) -> list[Any]:
    i, s, st = t.instances, t.series, t.studies
    where: list[Any] = []
    if cond.modalities:
        where.append(s.c.modality.in_(cond.modalities))
    if cond.min_age_days:
        cutoff = now - timedelta(days=cond.min_age_days)
        if cond.age_from == "study_date":
            day = clock.local(cutoff).strftime("%Y%m%d")
            where.append(and_(st.c.study_date != "", st.c.study_date <= day))
        else:
            where.append(i.c.received_at <= cutoff)
    if cond.source_aes:
        where.append(i.c.source_ae_title.in_(cond.source_aes))
    if cond.series_description:
        where.append(
            func.upper(s.c.series_description).like(_like(cond.series_description), escape="\\")
        )
    if cond.sop_classes:
        where.append(i.c.sop_class_uid.in_(cond.sop_classes))
    if cond.statuses or cond.departments:
        x = _exam_of_study()
        match = [x.c.uid == st.c.study_instance_uid]
        if cond.statuses:
            match.append(x.c.status.in_(cond.statuses))
        if cond.departments:
            match.append(x.c.department.in_(cond.departments))
        where.append(exists().where(*match))
    return where


def action_clauses(rule: Rule, now: datetime) -> list[Any]:
    """What makes the action still to do for an object (a done one is not selected again)."""
    sop = t.instances.c.sop_instance_uid
    if rule.action in ("land", "copy"):
        return [~_verified_on(sop, rule.area)]
    if rule.action in ("move", "keep_online_until"):
        return [online(sop)]
    c = at.archive_copies  # delete_copy_after
    return [
        exists().where(
            c.c.sop_instance_uid == sop,
            c.c.area == rule.area,
            c.c.created_at <= now - timedelta(days=rule.days),
        )
    ]


def no_open_task(rule: Rule) -> Any:
    """No task of this kind waiting, running or dead for the object (a move: to any area)."""
    match = [
        tasks.c.sop_instance_uid == t.instances.c.sop_instance_uid,
        tasks.c.kind == rule.task_kind,
        tasks.c.status.in_(OPEN),
    ]
    if rule.task_kind != "move":
        match.append(tasks.c.area == rule.area)
    return ~exists().where(*match)


def matching(rule: Rule, now: datetime, *, fresh_only: bool = False) -> Select[Any]:
    """The objects (SOP UID, study UID, size) the rule's conditions and action select;
    ``fresh_only``: leaving out those that already have a task."""
    i, s, st = t.instances, t.series, t.studies
    query = (
        select(i.c.sop_instance_uid, st.c.study_instance_uid, i.c.size)
        .select_from(i.join(s, s.c.id == i.c.series_fk).join(st, st.c.id == s.c.study_fk))
        .where(*condition_clauses(rule.conditions, now), *action_clauses(rule, now))
    )
    if fresh_only:
        query = query.where(no_open_task(rule))
    return query


def _last_read() -> Any:
    st = t.studies
    read = select(reads.c.read_at).where(reads.c.study_instance_uid == st.c.study_instance_uid)
    return func.coalesce(read.scalar_subquery(), st.c.created_at)


def oldest_read_studies(
    conn: Connection, rule: Rule, now: datetime, need: int, *, fresh_only: bool = False
) -> list[str]:
    """For ``keep_online_until``: the matching studies read longest ago whose online bytes
    add up to ``need`` (the bytes to free to get under the fill limit)."""
    if need <= 0:
        return []
    sub = matching(rule, now, fresh_only=fresh_only).subquery()
    st = t.studies
    rows = conn.execute(
        select(sub.c.study_instance_uid, func.sum(sub.c.size).label("bytes"))
        .join(st, st.c.study_instance_uid == sub.c.study_instance_uid)
        .group_by(sub.c.study_instance_uid, st.c.created_at)
        .order_by(func.min(_last_read()), sub.c.study_instance_uid)
        .execution_options(yield_per=500)
    )
    chosen: list[str] = []
    freed = 0
    for uid, size in rows:
        if freed >= need:
            break
        chosen.append(uid)
        freed += int(size or 0)
    return chosen


def bytes_over(rule: Rule, usage: Usage) -> int:
    used, total = usage()
    return max(0, used - total * rule.fill_percent // 100)


def selection(
    conn: Connection, rule: Rule, now: datetime, usage: Usage, *, fresh_only: bool = False
) -> Select[Any]:
    """Every object the rule would act on now (for keep_online_until: the oldest-read studies
    that bring the online area under its limit)."""
    query = matching(rule, now, fresh_only=fresh_only)
    if rule.action != "keep_online_until":
        return query
    studies = oldest_read_studies(conn, rule, now, bytes_over(rule, usage), fresh_only=fresh_only)
    sub = query.subquery()
    return select(sub).where(sub.c.study_instance_uid.in_(studies or [""]))


@dataclass
class DryRun:
    studies: int
    instances: int
    bytes: int
    first: list[dict[str, Any]]

    def as_json(self) -> dict[str, Any]:
        return {
            "studies": self.studies,
            "instances": self.instances,
            "bytes": self.bytes,
            "first": self.first,
        }


def dry_run(conn: Connection, rule: Rule, usage: Usage, first: int = 20) -> DryRun:
    """How many studies, objects and bytes the rule would touch now, and the first studies
    (newest first); nothing is changed."""
    sub = selection(conn, rule, clock.now(), usage).subquery()
    total = conn.execute(
        select(
            func.count(func.distinct(sub.c.study_instance_uid)),
            func.count(),
            func.coalesce(func.sum(sub.c.size), 0),
        )
    ).one()
    st, p = t.studies, t.patients
    per_study = (
        select(
            sub.c.study_instance_uid,
            func.count().label("instances"),
            func.sum(sub.c.size).label("bytes"),
        )
        .group_by(sub.c.study_instance_uid)
        .subquery()
    )
    rows = conn.execute(
        select(per_study, st.c.study_date, st.c.study_description, p.c.patient_id, p.c.patient_name)
        .join(st, st.c.study_instance_uid == per_study.c.study_instance_uid)
        .join(p, p.c.id == st.c.patient_fk)
        .order_by(st.c.study_date.desc(), st.c.id.desc())
        .limit(first)
    ).all()
    listed = [
        {
            "study_instance_uid": r.study_instance_uid,
            "patient_id": r.patient_id,
            "patient_name": names.display(r.patient_name),
            "study_date": r.study_date,
            "study_description": r.study_description,
            "instances": int(r.instances),
            "bytes": int(r.bytes or 0),
        }
        for r in rows
    ]
    return DryRun(int(total[0]), int(total[1]), int(total[2]), listed)


def in_batch(query: Select[Any], sop_uids: Iterable[str]) -> Select[Any]:
    """The query narrowed to these objects (land rules on just-stored objects)."""
    sub = query.subquery()
    return select(sub).where(sub.c.sop_instance_uid.in_(list(sop_uids) or [""]))
