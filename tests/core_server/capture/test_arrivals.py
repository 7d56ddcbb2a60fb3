"""Stored images become one journal event per study and round (what /api/ws pushes to the
report editor), not one per object."""

from __future__ import annotations

from pydicom.uid import generate_uid

from core_server import db
from core_server.archive import Origin
from core_server.capture.arrivals import EVENT
from core_server.queueing import journal
from tests.core_server.capture.conftest import Unit
from tests.dicom_data import encode, make_ct


def test_arrivals_are_gathered_per_study(unit: Unit) -> None:
    core = unit.core.core
    arrivals = unit.core.app.state.capture_arrivals
    arrivals.ticker.stop()  # rounds by hand, so the test sees each
    arrivals.flush()
    with db.read(core.engine) as conn:
        before = journal.latest(conn)
    studies = [generate_uid(), generate_uid()]
    for number, study in enumerate([studies[0]] * 3 + [studies[1]], 1):
        ds = make_ct(study_uid=study, instance_number=number, size=16)
        core.archive.store_instance(encode(ds), Origin("test"))
    core.archive.store_instance(encode(ds), Origin("test"))  # a duplicate: nothing new
    assert arrivals.flush() == 2
    assert arrivals.flush() == 0
    with db.read(core.engine) as conn:
        told = [e for e in journal.since(conn, before) if e.type == EVENT]
    assert sorted(
        (e.payload["study_instance_uid"], e.payload["instances"]) for e in told
    ) == sorted([(studies[0], 3), (studies[1], 1)])
