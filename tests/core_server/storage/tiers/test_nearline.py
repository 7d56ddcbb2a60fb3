"""What the UI's "nearline" and "retrieving n/N" stand on (SQLite and PostgreSQL): which
studies of a list are not wholly online, the areas' holdings per offline set, and a recall's
progress events between "retrieving" 0 and "done"."""

from __future__ import annotations

from pathlib import Path

import pytest

from core_server.archive import copies, recall
from core_server.archive.areas import AreaSpec
from tests.core_server.storage.tiers.conftest import Stored, store_study


def test_nearline_studies_holdings_and_progress(
    stored: Stored, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    archive = stored.archive
    other, _ = store_study(archive, 1)
    (tmp_path / "vault").mkdir()
    archive.areas.create(AreaSpec("vault", "offline", str(tmp_path / "vault"), label="SET-A"))
    uids = sorted(stored.objects)
    for uid in uids:
        copies.copy_to(archive.engine, archive.areas, uid, "vault")
    assert copies.studies_not_online(archive.engine, [stored.study, other]) == {}
    for uid in uids[:2]:
        assert copies.drop_online(archive.engine, archive.areas, uid)
    found = copies.studies_not_online(archive.engine, [stored.study, other, "1.2.3"])
    assert found == {stored.study: (3, 1)}
    assert copies.count_not_online(archive.engine) == 2
    (held,) = copies.held(archive.engine)
    assert (held.area, held.volume, held.copies, held.verified) == ("vault", "SET-A", 3, 3)
    assert held.bytes == sum(len(d) for d in stored.objects.values())

    monkeypatch.setattr(recall, "PROGRESS_EVERY", 0.0)  # every object told
    stored.events.clear()
    assert archive.recall(uids, study_instance_uid=stored.study) == 2
    states = [(e["state"], e["done"], e["total"]) for e in stored.events]
    assert states == [("retrieving", 0, 2), ("retrieving", 1, 2), ("done", 2, 2)]
