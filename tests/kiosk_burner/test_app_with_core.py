"""The kiosk against a real core: a scanned accession number through the screens to a job
burned by the ISO-only writer and reported done; make-iso builds the same exam's image; two
kiosks never take one job. The kiosk's RSS is measured along the way."""

from __future__ import annotations

import io
import resource
from pathlib import Path

import pycdlib

from device_kit import config, enrolment
from device_kit.readers import ScriptedScanner
from device_kit.screen import offscreen
from kiosk_burner import app as k
from kiosk_burner.__main__ import KioskBurnerProgram
from kiosk_burner.hardware import make_writer
from kiosk_burner.make_iso import main as make_iso_main
from kiosk_burner.settings import Settings
from tests.conftest import RunningCore
from tests.core_server.discs.conftest import desk_on
from tests.core_server.reporting.output_data import signed_report
from tests.device_kit.core_setup import run_until


def kiosk_key(admin, name: str) -> str:  # type: ignore[no-untyped-def]
    answer = admin.post("/api/queueing/devices", json={"name": name, "kind": "kiosk"})
    assert answer.status_code == 201, answer.text
    return str(answer.json()["key"])


def test_identify_to_done_with_the_iso_writer(core: RunningCore, tmp_path: Path) -> None:
    desk = desk_on(core)
    signed = signed_report(core, "P900", name="王^建国", images=3)
    accession = signed.exam.accession_number
    record = enrolment.Enrolment(core.base_url, kiosk_key(desk.admin, "kiosk-1"), "kiosk-1")
    settings = config.load(
        Settings,
        state_dir=tmp_path / "state",
        iso_folder=tmp_path / "iso",
        reconnect_min_delay=0.05,
        reconnect_max_delay=0.5,
        claim_seconds=0.2,
        poll_seconds=0.1,
        request_timeout=120,
    )
    (tmp_path / "iso").mkdir()
    scanner = ScriptedScanner()
    program = KioskBurnerProgram(
        settings, record, make_writer(settings), scanner, offscreen((1080, 1920))
    )
    program.start()
    try:
        run_until(program.step, lambda: program.app.online, "online")
        scanner.codes.append(accession)
        run_until(program.step, lambda: program.app.screen == k.EXAMS, "exams", timeout=30)
        [exam] = program.app.burnable
        assert exam["accession_number"] == accession and exam["report"] is True
        program.handle(k.Touched("continue"))
        program.handle(k.Touched("burn"))
        run_until(program.step, lambda: program.app.screen == k.PROGRESS, "queued", timeout=30)
        run_until(program.step, lambda: program.app.screen in (k.DONE, k.ERROR), "end", timeout=90)
        assert program.app.screen == k.DONE, program.app.message
        job = desk.registrar.get(f"/api/discs/{program.app.job_id}").json()
        assert job["state"] == "done" and job["device"] == "kiosk-1"
        states = [s["state"] for s in job["steps"]]
        assert states[0] == "queued" and "building" in states and "burning" in states
        [iso] = sorted((tmp_path / "iso").glob("*.iso"))
        disc = pycdlib.PyCdlib()
        disc.open(str(iso))
        names = [c.file_identifier() for c in disc.list_children(iso_path="/")]
        disc.close()
        assert b"DICOMDIR.;1" in names
    finally:
        program.stop()
    rss_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(f"peak RSS of the test process (core + kiosk): {rss_mb:.0f} MB")

    # make-iso: the same exam's image through a device of its own.
    out = tmp_path / "desk.iso"
    key = kiosk_key(desk.admin, "desk-iso")
    assert (
        make_iso_main(
            ["--core-url", core.base_url, "--key", key, "--accession", accession, str(out)]
        )
        == 0
    )
    disc = pycdlib.PyCdlib()
    disc.open(str(out))
    assert b"DICOMDIR.;1" in [c.file_identifier() for c in disc.list_children(iso_path="/")]
    disc.close()
    # make-iso by the Study Instance UID: the same exam, the same disc contents.
    by_uid = tmp_path / "by-uid.iso"
    uid = signed.exam.study_instance_uid
    assert (
        make_iso_main(["--core-url", core.base_url, "--key", key, "--study-uid", uid, str(by_uid)])
        == 0
    )
    assert _dicom_files(by_uid) == _dicom_files(out)
    jobs = desk.registrar.get("/api/discs?state=done").json()
    assert [j["exam_ids"] for j in jobs if j["device"] == "desk-iso"] == [[signed.exam.id]] * 2


def _dicom_files(iso: Path) -> dict[str, bytes]:
    """The disc's DICOM files by their ISO 9660 path."""
    disc = pycdlib.PyCdlib()
    disc.open(str(iso))
    found = {}
    for root, _dirs, files in disc.walk(iso_path="/DICOM"):
        for name in files:
            path = f"{root}/{name}"
            data = io.BytesIO()
            disc.get_file_from_iso_fp(data, iso_path=path)
            found[path] = data.getvalue()
    disc.close()
    return found


def test_two_kiosks_never_take_one_job(core: RunningCore, tmp_path: Path) -> None:
    desk = desk_on(core)
    signed = signed_report(core, "P950", name="李^四", images=1)
    runners = {}
    for name in ("kiosk-a", "kiosk-b"):
        record = enrolment.Enrolment(core.base_url, kiosk_key(desk.admin, name), name)
        settings = config.load(Settings, state_dir=tmp_path / name, iso_folder=tmp_path / name)
        program = KioskBurnerProgram(
            settings, record, make_writer(settings), ScriptedScanner(), offscreen((100, 100))
        )
        runners[name] = program.worker
    made = desk.registrar.post(
        "/api/discs", json={"exam_ids": [signed.exam.id], "device": "kiosk-a"}
    )
    assert made.status_code == 201, made.text
    assert runners["kiosk-b"].once() is None  # not its job
    assert runners["kiosk-a"].once() == "done"
    assert runners["kiosk-b"].once() is None and runners["kiosk-a"].once() is None
    job = desk.registrar.get(f"/api/discs/{made.json()['id']}").json()
    assert job["state"] == "done" and job["discs_done"] == 1
