"""Rule selection and the dry run on SQLite and PostgreSQL: each condition (modality, age
since received and since the study date, RIS status and department, source AE, series
description pattern, SOP class) narrows what a rule touches, done work is not selected
again, and the dry run changes nothing."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import func, select

from core_server import clock, db
from core_server.archive import copies
from core_server.archive.areas import tables as at
from core_server.refusals import Invalid
from core_server.storage.tiers import rules, rules_select
from tests.core_server.storage.rules.conftest import World


def _rule(world: World, **body: object) -> rules.Rule:
    return rules.rule_from(
        {"name": "r", "action": "copy", "area": "near", **body}, world.archive.areas
    )


def _count(world: World, rule: rules.Rule) -> tuple[int, int, int]:
    got = world.runner.dry_run(rule)
    return got.studies, got.instances, got.bytes


def test_each_condition_narrows_the_selection(world: World) -> None:
    _, ct_uids = world.store(2, modality="CT", study_date="20200101", ae="CT01")
    world.store(3, modality="MR", study_date=clock.today().strftime("%Y%m%d"), ae="MR01")
    world.store(1, modality="CT", description="VR 3D RECON", ae="WS01")
    assert _count(world, _rule(world))[:2] == (3, 6)
    assert _count(world, _rule(world, conditions={"modalities": ["mr"]}))[:2] == (1, 3)
    aged = {"min_age_days": 30, "age_from": "study_date"}
    assert _count(world, _rule(world, conditions=aged))[:2] == (2, 3)
    # Everything was received just now: nothing is 30 days old since it was received.
    assert _count(world, _rule(world, conditions={"min_age_days": 30}))[:2] == (0, 0)
    assert _count(world, _rule(world, conditions={"source_aes": "CT01, WS01"}))[:2] == (2, 3)
    post = {"series_description": "*recon*"}
    assert _count(world, _rule(world, conditions=post))[:2] == (1, 1)
    sop = {"sop_classes": ["1.2.840.10008.5.1.4.1.1.2"]}
    assert _count(world, _rule(world, conditions=sop))[:2] == (3, 6)
    first = world.runner.dry_run(_rule(world, conditions={"modalities": ["CT"]}), first=1).first
    assert len(first) == 1 and "^" not in first[0]["patient_name"]
    # A verified copy on the area takes the object out of a copy rule.
    copies.copy_to(world.engine, world.archive.areas, ct_uids[0], "near")
    assert _count(world, _rule(world, conditions={"modalities": ["CT"]}))[:2] == (2, 2)


def test_status_and_department_come_from_the_ris_exam(world: World) -> None:
    exam = world.exam("O1")
    study, _ = world.store(2, study=exam.study_instance_uid, patient_id="P001")
    world.store(1)  # a study of no exam
    reported = {"statuses": ["reported", "verified"]}
    assert _count(world, _rule(world, conditions=reported))[:2] == (0, 0)
    for step in ("in_progress", "completed", "reported"):
        world.ris.change_status(exam.id, step, username="t")
    assert _count(world, _rule(world, conditions=reported))[:2] == (1, 2)
    same = {"departments": [exam.department]}
    assert exam.department and _count(world, _rule(world, conditions=same))[:2] == (1, 2)
    assert _count(world, _rule(world, conditions={"departments": ["nowhere"]}))[:2] == (0, 0)
    assert study == exam.study_instance_uid


def test_the_dry_run_changes_nothing_and_counts_bytes(world: World) -> None:
    _, uids = world.store(2, size=32)
    move = _rule(world, action="move", min_verified=2)
    before = _count(world, move)
    assert before[0] == 1 and before[1] == 2 and before[2] > 2 * 32 * 32
    assert _count(world, move) == before
    assert all(world.online_file(u).exists() for u in uids)
    with db.read(world.engine) as conn:
        assert conn.execute(select(func.count()).select_from(at.archive_copies)).scalar() == 0


def test_keep_online_until_takes_the_oldest_read_studies(world: World) -> None:
    old, _ = world.store(2)
    new, _ = world.store(2)
    world.runner.note_read([new])
    rule = _rule(world, action="keep_online_until", fill_percent=85)
    with db.read(world.engine) as conn:
        size = int(conn.execute(select(func.sum(rules_select.t.instances.c.size))).scalar_one())
    world.used[:] = [50, 100]  # under the limit: nothing
    assert _count(world, rule)[:2] == (0, 0)
    world.used[:] = [86, 100]  # 1 byte over: the study read longest ago goes
    got = world.runner.dry_run(rule)
    assert (got.studies, got.instances) == (1, 2)
    assert got.first[0]["study_instance_uid"] == old
    world.used[:] = [85 + size, 100]
    assert _count(world, rule)[:2] == (2, 4)


def test_delete_copy_after_days_selects_old_copies(world: World) -> None:
    _, uids = world.store(2)
    for uid in uids:
        copies.copy_to(world.engine, world.archive.areas, uid, "near")
    rule = _rule(world, action="delete_copy_after", days=15)
    assert _count(world, rule)[:2] == (0, 0)
    c = at.archive_copies
    with db.write(world.engine) as conn:
        conn.execute(
            c.update()
            .where(c.c.sop_instance_uid == uids[0])
            .values(created_at=clock.now() - timedelta(days=16))
        )
    assert _count(world, rule)[:2] == (1, 1)


@pytest.mark.parametrize(
    "body",
    [
        {"action": "shred"},
        {"area": "online"},
        {"area": "nowhere"},
        {"action": "keep_online_until", "fill_percent": 0},
        {"action": "delete_copy_after"},
        {"min_verified": 9},
        {"conditions": {"statuses": ["lost"]}},
        {"conditions": {"age_from": "birthday"}},
        {"conditions": {"modalities": ["C'T; drop"]}},
        {"name": ""},
    ],
)
def test_bad_rules_are_refused_naming_the_problem(world: World, body: dict[str, object]) -> None:
    with pytest.raises(Invalid):
        _rule(world, **body)
