"""Compression rules through the admin REST API on a running core (SQLite and PostgreSQL): an
``on_ingest`` rule compresses what a C-STORE brings once it is acknowledged (the durable job
from the stored event), an ``on_schedule`` rule compresses only old enough objects and shows
them in a dry run first, ``core-server storage compress`` does it at once, and what must stay
as it is (a structured report) is left alone."""

from __future__ import annotations

import json
import time
from datetime import timedelta
from pathlib import Path

import httpx
import numpy as np
from pydicom import dcmread
from pydicom.uid import JPEG2000Lossless, JPEGLSLossless, RLELossless, generate_uid
from sqlalchemy import update

from core_server import cli, clock, db
from core_server.archive import Origin
from core_server.archive import tables as t
from tests.conftest import RunningCore
from tests.core_server.dicom.clients import dcmtk, peer, stored_syntax
from tests.dicom_data import encode, make_ct, testdata, write

BASE = "/api/storage/compression"


def _jobs_done(api: httpx.Client, done: int) -> dict[str, int]:
    deadline = time.monotonic() + 60
    counts: dict[str, int] = {}
    while time.monotonic() < deadline:
        counts = api.get(f"{BASE}/jobs").json()
        if counts.get("done", 0) + counts.get("left", 0) >= done:
            return counts
        time.sleep(0.2)
    raise AssertionError(f"jobs not done: {counts}")


def test_rules_compress_on_ingest_and_on_schedule(
    core_on: RunningCore, tmp_path: Path, capsys: object
) -> None:
    core = core_on
    with core.api() as api:
        _refusals(api)
        ingest_rule = api.post(
            f"{BASE}/rules",
            json={
                "name": "CT 无损",
                "trigger": "on_ingest",
                "modalities": "ct",
                "transfer_syntax_uid": str(JPEGLSLossless),
            },
        )
        assert ingest_rule.status_code == 201, ingest_rule.text
        assert ingest_rule.json()["modalities"] == ["CT"]

        # A CT and an MR by C-STORE: the CT is compressed after its acknowledgement.
        ct, mr = make_ct(size=64), make_ct(size=64, modality="MR")
        dcmtk("storescu", *peer(core), str(write(ct, tmp_path)), str(write(mr, tmp_path)))
        counts = _jobs_done(api, 1)
        assert counts.get("done") == 1, counts
        assert stored_syntax(core, ct.SOPInstanceUID) == JPEGLSLossless
        assert stored_syntax(core, mr.SOPInstanceUID) != JPEGLSLossless
        (located,) = core.core.archive.locate({"SOPInstanceUID": ct.SOPInstanceUID})
        assert np.array_equal(dcmread(located.path).pixel_array, ct.pixel_array)

        # On a schedule: objects older than 30 days, to JPEG 2000 lossless.
        old = _old_objects(core, days=40)
        schedule = api.post(
            f"{BASE}/rules",
            json={
                "name": "30 天后",
                "trigger": "on_schedule",
                "min_age_days": 30,
                "transfer_syntax_uid": str(JPEG2000Lossless),
            },
        ).json()
        assert api.post(f"{BASE}/dry-run").json() == {"on_ingest": 0, "on_schedule": 2}
        assert stored_syntax(core, old["image"]) != JPEG2000Lossless  # a dry run changes nothing
        listed = api.get(f"{BASE}/rules").json()
        assert [r["name"] for r in listed] == ["CT 无损", "30 天后"]

    # The operator's command does it now, on the same database.
    argv = ["storage", "compress", "--data-dir", str(core.settings.data_dir)]
    if core.settings.database_url:
        argv += ["--database-url", core.settings.database_url]
    core.core.lifecycle.compression.stop()  # the command alone does the work here
    assert cli.main(argv) == 0
    said = json.loads(capsys.readouterr().out.strip().splitlines()[-1])  # type: ignore[attr-defined]
    assert said["queued"] == 2 and said["ran"] == 2
    assert stored_syntax(core, old["image"]) == JPEG2000Lossless
    assert stored_syntax(core, old["report"]) == "1.2.840.10008.1.2.1"  # left as it is
    assert said["jobs"]["left"] == 1
    # the recent MR is not old enough; the CT was done by the first rule
    assert stored_syntax(core, mr.SOPInstanceUID) != JPEG2000Lossless
    with core.api() as api:
        assert api.delete(f"{BASE}/rules/{schedule['id']}").status_code == 204
        assert api.delete(f"{BASE}/rules/{schedule['id']}").status_code == 404


def _refusals(api: httpx.Client) -> None:
    lossless_with_ratio = {
        "name": "x",
        "trigger": "on_ingest",
        "transfer_syntax_uid": str(RLELossless),
        "ratio": 10,
    }
    answer = api.post(f"{BASE}/rules", json=lossless_with_ratio)
    assert answer.status_code == 422
    assert answer.json()["detail"]["code"] == "storage.compression.ratio"
    jpeg = {"name": "x", "trigger": "on_ingest", "transfer_syntax_uid": "1.2.840.10008.1.2.4.50"}
    assert api.post(f"{BASE}/rules", json=jpeg).json()["detail"]["code"] == (
        "storage.compression.syntax_unknown"
    )
    no_age = {"name": "x", "trigger": "on_schedule", "transfer_syntax_uid": str(RLELossless)}
    assert api.post(f"{BASE}/rules", json=no_age).json()["detail"]["code"] == (
        "storage.compression.age"
    )
    assert api.put(f"{BASE}/rules/999", json=jpeg).status_code == 404
    syntaxes = api.get(f"{BASE}/syntaxes").json()
    assert [s["lossy"] for s in syntaxes] == [False, False, False, True]


def _old_objects(core: RunningCore, days: int) -> dict[str, str]:
    """An image and a structured report stored, then dated ``days`` back (as if received then)."""
    image = make_ct(size=32, modality="DX", study_uid=generate_uid())
    report = dcmread(testdata("test-SR.dcm"))
    report.SOPInstanceUID = report.file_meta.MediaStorageSOPInstanceUID = generate_uid()
    for ds in (image, report):
        core.core.archive.store_instance(encode(ds), Origin("test"))
    uids = [str(image.SOPInstanceUID), str(report.SOPInstanceUID)]
    with db.write(core.core.engine) as conn:
        conn.execute(
            update(t.instances)
            .where(t.instances.c.sop_instance_uid.in_(uids))
            .values(received_at=clock.now() - timedelta(days=days))
        )
    return {"image": uids[0], "report": uids[1]}
