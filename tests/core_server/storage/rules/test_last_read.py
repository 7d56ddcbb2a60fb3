"""Last read on retrieve (SQLite and PostgreSQL): a C-GET of a study through a running core
publishes ``archive.retrieved`` (at most once a minute per study), the rules runner notes the
study's last read, and "keep online until a fill %" then takes the study read longest ago
first (the one just retrieved last)."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path
from typing import Any

from pydicom.uid import generate_uid
from sqlalchemy import select

from core_server import clock, db
from core_server.archive import Origin
from core_server.archive.areas import AreaSpec
from core_server.storage.tiers import rules, rules_select
from core_server.storage.tiers.rules_tables import storage_study_reads as reads
from tests.conftest import RunningCore
from tests.core_server.dicom.clients import getscu
from tests.dicom_data import encode, make_ct


def _study(core: RunningCore) -> str:
    study, series = generate_uid(), generate_uid()
    for n in (1, 2):
        data = encode(make_ct(study_uid=study, series_uid=series, instance_number=n))
        core.core.archive.store_instance(data, Origin("dimse", "CT01"))
    return study


def _oldest_read(core: RunningCore, rule: rules.Rule) -> list[str]:
    with db.read(core.core.archive.engine) as conn:
        return rules_select.oldest_read_studies(conn, rule, clock.now(), 1)


def test_a_cget_is_a_read_and_the_fill_rule_takes_the_oldest_read(
    core_on: RunningCore, tmp_path: Path
) -> None:
    archive = core_on.core.archive
    told: list[dict[str, Any]] = []
    archive.bus.subscribe("archive.retrieved", lambda _t, payload: told.append(payload))
    core_on.register("GETSCU", allow_retrieve=True)
    first, second = _study(core_on), _study(core_on)
    (tmp_path / "near").mkdir()
    archive.areas.create(AreaSpec("near", "filesystem", str(tmp_path / "near")))
    body = {"name": "fill", "action": "keep_online_until", "area": "near", "fill_percent": 85}
    rule = rules.rule_from(body, archive.areas)
    assert _oldest_read(core_on, rule) == [first]  # never read: by arrival
    assert told == []  # storing (and the RIS's look-up of the study) is no read

    got = getscu(core_on, tmp_path / "get", QueryRetrieveLevel="STUDY", StudyInstanceUID=first)
    assert len(got) == 2
    assert told == [{"study_instance_uids": [first]}]
    with db.read(archive.engine) as conn:
        read_at = conn.execute(
            select(reads.c.read_at).where(reads.c.study_instance_uid == first)
        ).scalar()
    assert read_at is not None and clock.now() - read_at < timedelta(minutes=5)
    assert _oldest_read(core_on, rule) == [second]  # the one just read goes last

    # A second retrieve within the minute is not told again (no write on the hot path).
    getscu(core_on, tmp_path / "again", QueryRetrieveLevel="STUDY", StudyInstanceUID=first)
    assert told == [{"study_instance_uids": [first]}]
