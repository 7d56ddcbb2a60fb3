"""Against a whole running core with the station's AE registered: the worklist by REST (device
key) and by MWL C-FIND, the sender's MPPS N-CREATE moving the exam to in progress, a capture
stored into the exam's study, N-SET COMPLETED (after the captures) and DISCONTINUED."""

from __future__ import annotations

from pathlib import Path

from capture_station import mpps, worklist
from capture_station.contract import Capture, StationIdentity
from capture_station.sender import Peer, Sender
from capture_station.spool import CaptureSpool
from core_server import clock
from core_server.ris import OrderIn, PatientIn, ProcedureRequest
from device_kit.client import CoreClient
from device_kit.enrolment import Enrolment
from tests.capture_station.stand_ins import dataset
from tests.conftest import RunningCore

STATION = StationIdentity("WEIJING1", "WEIJING1", "endoscopy", operator="ZHAO^YI=赵^医")


def _orders(core: RunningCore) -> list[int]:
    ris = core.core.ris
    ris.register_patient(PatientIn("P1", "王^建国"), username="reg")
    placed = ris.place_order(
        "P1",
        "",
        OrderIn(
            "O1",
            (
                ProcedureRequest("ES-GASTRO", modality="ES", station_ae="WEIJING1"),
                ProcedureRequest("ES-COLON", modality="ES", station_ae="WEIJING1"),
            ),
        ),
        username="reg",
    )
    for exam in placed.exams:
        ris.check_in(exam.id, username="desk")
    return [e.id for e in placed.exams]


def _now() -> str:
    return str(clock.iso(clock.now()))


def test_worklist_and_mpps_move_the_ris(core: RunningCore, tmp_path: Path) -> None:
    core.register("WEIJING1", port=11112)
    first_id, second_id = _orders(core)
    with core.api() as admin:
        answer = admin.post("/api/queueing/devices", json={"name": "cap1", "kind": "capture"})
        assert answer.status_code == 201, answer.text
        key = answer.json()["key"]
    client = CoreClient(Enrolment(core.base_url, key))
    today = clock.today()

    rest = worklist.fetch_rest(client, "", today)
    by_id = {e.exam_id: e for e in rest}
    assert set(by_id) >= {first_id, second_id}
    first = by_id[first_id]
    assert first.patient_name.endswith("=王^建国") and first.study_instance_uid
    mwl = worklist.fetch_mwl(STATION, "127.0.0.1", core.dicom_port, core.ae_title, today)
    assert {e.accession_number for e in mwl} >= {first.accession_number}
    assert next(e for e in mwl if e.accession_number == first.accession_number)
    ris = core.core.ris

    spool = CaptureSpool(tmp_path / "captures")
    peer = Peer("127.0.0.1", core.dicom_port, core.ae_title, timeout=5)
    sender = Sender(spool, STATION, peer, dataset)
    try:
        started = _now()
        step = mpps.new_step(first, started)
        spool.save_step(step)
        capture = Capture(
            spool.new_key(),
            "still",
            "1.2.826.0.1.3680043.8.498.77",
            "1.2.826.0.1.3680043.8.498.78",
            first,
            started,
            "",
            4,
            4,
            1,
        )
        spool.add_still(capture, b"\xff\xd8")
        assert sender.send_pending()
        assert ris.exam(first_id).status == "in_progress"
        assert core.core.ris.exam(first_id).images == 1
        stored = spool.step(step.uid)
        assert stored is not None and stored.created
        step = stored
        step.end_status, step.ended_at = mpps.COMPLETED, _now()
        step.series = {capture.series_instance_uid: [capture.sop_instance_uid]}
        spool.save_step(step)
        assert sender.send_pending()
        assert ris.exam(first_id).status == "completed"
        assert ris.history(first_id)[-1].username == "mpps:WEIJING1"
        assert spool.steps() == []

        second = by_id[second_id]
        other = mpps.new_step(second, _now())
        other.end_status, other.ended_at = mpps.DISCONTINUED, _now()
        other.reason = "equipment_failure"
        spool.save_step(other)
        assert sender.send_pending()
        assert ris.exam(second_id).status == "arrived"
    finally:
        sender.stop()
        client.close()
