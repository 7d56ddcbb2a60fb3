"""The job runner against small stand-ins of the core and a writer: the steps it reports,
retries on a new disc, waiting for the desk, cancel, and a restart that never reports a
half-burned job done."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from device_kit.client import CoreRefused, CoreUnreachable
from device_kit.drivers import Availability
from kiosk_burner.app import JobStep, WriterStatus
from kiosk_burner.contract import DiscImage, Label, Manifest, RobotState, WriterProgress
from kiosk_burner.worker import HeldJob, JobRunner, Timing, Worker

MANIFEST = {
    "job_id": 7,
    "copies": 2,
    "hospital_name": "某某市人民医院",
    "patient_id": "P1",
    "patient_name": "王建国",
    "patient_name_latin": "WANG JIANGUO",
    "birth_date": "1980-01-15",
    "sex": "M",
    "qr_url": "https://pacs/c/x",
    "qr_expires": "",
    "exams": [
        {
            "exam_id": 1,
            "accession_number": "A1",
            "study_instance_uids": ["1.2.3"],
            "procedure": "胸部CT平扫",
            "modality": "CT",
            "exam_date": "2026-12-01",
            "images": 3,
        }
    ],
}


class Killed(BaseException):
    pass


class Core:
    def __init__(self, cancel_after: int | None = None, down: int = 0) -> None:
        self.progress: list[dict[str, Any]] = []
        self.jobs: list[dict[str, Any]] = [{"id": 7, "state": "building"}]
        self.cancel_after = cancel_after
        self.down = down  # progress calls that fail as unreachable first
        self.job_state = "burning"

    def request(self, method: str, path: str, body: Any = None, idempotency_key: Any = None) -> Any:
        if path == "/api/discs/claim":
            return self.jobs.pop(0) if self.jobs else None
        assert path == "/api/discs/7/progress", path
        if self.down:
            self.down -= 1
            raise CoreUnreachable("down")
        if self.cancel_after is not None and len(self.progress) >= self.cancel_after:
            raise CoreRefused(409, "discs.cancelled", "cancelled")
        self.progress.append(body)
        return {"id": 7, "state": body["state"]}

    def get(self, path: str) -> Any:
        if path == "/api/discs/7":
            return {"id": 7, "state": self.job_state}
        assert path == "/api/discs/7/manifest"
        return MANIFEST

    def get_bytes(self, path: str) -> bytes:
        raise AssertionError(path)


class Writer:
    """Each key moves through ``script`` (one state per progress call)."""

    name = "fake"

    def __init__(self, scripts: list[list[WriterProgress]] | None = None) -> None:
        self.scripts = scripts or []
        self.submitted: list[tuple[str, Label, int]] = []
        self.cancelled: list[str] = []
        self.states: dict[str, list[WriterProgress]] = {}
        self.robot = RobotState(ok=True)
        self.robot_after: list[RobotState] = []

    def is_available(self) -> Availability:
        return Availability("fake")

    def robot_state(self) -> RobotState:
        return self.robot_after.pop(0) if self.robot_after else self.robot

    def submit(self, disc: DiscImage, label: Label, copies: int, key: str) -> None:
        self.submitted.append((key, label, copies))
        script = self.scripts.pop(0) if self.scripts else [WriterProgress("done")]
        self.states[key] = list(script)

    def progress(self, key: str) -> WriterProgress:
        if key not in self.states:
            raise KeyError(key)
        states = self.states[key]
        return states.pop(0) if len(states) > 1 else states[0]

    def cancel(self, key: str) -> None:
        self.cancelled.append(key)


def builder(discs: int = 1) -> Any:
    def build(
        manifest: Manifest, client: Any, job_id: int, folder: Path, medium: str
    ) -> list[DiscImage]:
        assert manifest.patient_name == "王建国" and folder.is_dir()
        images = []
        for n in range(1, discs + 1):
            iso = folder / f"{n}.iso"
            iso.write_bytes(b"iso")
            images.append(DiscImage(n, discs, "CD", iso, 3, "x", ("A1",)))
        return images

    return build


def runner(
    tmp_path: Path,
    core: Core,
    writer: Writer,
    discs: int = 1,
    attempts: int = 3,
    heartbeat: float = 30,
) -> JobRunner:
    steps: list[JobStep] = []
    r = JobRunner(
        core,
        writer,
        tmp_path / "work",
        HeldJob(tmp_path / "held.json"),
        steps.append,
        builder(discs),
        Timing(poll=0, heartbeat=heartbeat, attempts=attempts, desk_wait=60),
        sleep=lambda s: None,
    )
    r.steps = steps  # type: ignore[attr-defined]
    return r


def states(core: Core) -> list[tuple[str, int, int, str]]:
    return [(p["state"], p.get("disc", 0), p.get("discs", 0), p["reason"]) for p in core.progress]


def test_two_discs_building_burning_labelling_done(tmp_path: Path) -> None:
    core = Core()
    burning = [WriterProgress("burning"), WriterProgress("labelling"), WriterProgress("done")]
    writer = Writer([list(burning), list(burning)])
    r = runner(tmp_path, core, writer, discs=2)
    job = core.request("POST", "/api/discs/claim")
    assert r.run(job) == "done"
    assert states(core) == [
        ("building", 0, 0, ""),
        ("burning", 1, 2, ""),
        ("labelling", 1, 2, ""),
        ("burning", 2, 2, ""),
        ("labelling", 2, 2, ""),
        ("done", 2, 2, ""),
    ]
    key, label, copies = writer.submitted[0]
    assert key == "job-7-disc-1-try-0" and copies == 2
    assert label.exam_lines == ("2026-12-01 胸部CT平扫",) and (label.disc_number, label.discs) == (
        1,
        2,
    )
    assert label.patient_name == "王建国"
    assert not (tmp_path / "held.json").exists() and not (tmp_path / "work" / "job-7").exists()
    assert r.steps[-1] == JobStep(7, "done")  # type: ignore[attr-defined]


def test_a_failed_burn_is_tried_again_on_a_new_disc_then_fails(tmp_path: Path) -> None:
    core = Core()
    bad = [WriterProgress("burning"), WriterProgress("failed", "verify_failed", "sha differs")]
    writer = Writer([list(bad), [WriterProgress("done")]])
    assert runner(tmp_path, core, writer).run(core.request("POST", "/api/discs/claim")) == "done"
    assert [k for k, _, _ in writer.submitted] == ["job-7-disc-1-try-0", "job-7-disc-1-try-1"]
    assert ("burning", 1, 1, "verify_failed") in states(core)
    # Every attempt fails: the job fails with the reason, never done.
    core = Core()
    writer = Writer([list(bad), list(bad)])
    assert (
        runner(tmp_path, core, writer, attempts=2).run(core.request("POST", "/api/discs/claim"))
        == "failed"
    )
    assert states(core)[-1] == ("failed", 0, 0, "verify_failed")
    assert all(s[0] != "done" for s in states(core))


def test_out_of_discs_waits_for_the_desk_then_goes_on(tmp_path: Path) -> None:
    core = Core()
    writer = Writer([[WriterProgress("failed", "no_blank_disc")], [WriterProgress("done")]])
    writer.robot_after = [RobotState(False, ("no_discs",)), RobotState(True)]
    assert runner(tmp_path, core, writer).run(core.request("POST", "/api/discs/claim")) == "done"
    assert ("burning", 1, 1, "no_blank_disc") in states(core)  # the desk page shows why
    assert len(writer.submitted) == 2


def test_cancelled_in_the_core_stops_the_writer(tmp_path: Path) -> None:
    core = Core(cancel_after=2)  # building, burning 1/1, then the labelling step gets 409
    writer = Writer([[WriterProgress("burning"), WriterProgress("labelling")]])
    r = runner(tmp_path, core, writer)
    assert r.run(core.request("POST", "/api/discs/claim")) == "cancelled"
    assert writer.cancelled == ["job-7-disc-1-try-0"]
    assert all(s[0] != "done" for s in states(core))
    # The patient's cancel at the kiosk stops it at once too.
    core, writer = Core(), Writer([[WriterProgress("burning")]])
    r = runner(tmp_path, core, writer)
    r.cancelled.add(7)
    assert r.run(core.request("POST", "/api/discs/claim")) == "cancelled"


def test_core_down_mid_burn_the_done_is_sent_when_it_is_back(tmp_path: Path) -> None:
    core = Core()
    writer = Writer([[WriterProgress("burning"), WriterProgress("done")]])
    r = runner(tmp_path, core, writer)
    job = core.request("POST", "/api/discs/claim")
    core.down = 0
    original = writer.progress

    def progress(key: str) -> WriterProgress:
        result = original(key)
        if result.state == "done":
            core.down = 3  # the core goes away just as the disc is done
        return result

    writer.progress = progress  # type: ignore[method-assign]
    assert r.run(job) == "done"
    assert states(core)[-1] == ("done", 1, 1, "")


def test_restart_mid_burn_resumes_and_reports_done_only_when_the_writer_says(
    tmp_path: Path,
) -> None:
    core = Core()
    writer = Writer([[WriterProgress("burning")]])
    held = HeldJob(tmp_path / "held.json")

    def killed(key: str) -> WriterProgress:
        raise Killed()  # kill -9 mid-burn: nothing after this line runs

    writer.progress = killed  # type: ignore[method-assign]
    with pytest.raises(Killed):
        runner(tmp_path, core, writer).run(core.request("POST", "/api/discs/claim"))
    saved = held.load()
    assert saved is not None and saved["key"] == "job-7-disc-1-try-0"
    core.progress.clear()
    # The restarted kiosk: the job is still "burning" in the core and held by it.
    writer2 = Writer([[WriterProgress("done")]])  # a new writer process: knows no key
    worker = Worker(runner(tmp_path, core, writer2), claim_seconds=0)
    assert worker.once() == "done"
    assert [k for k, _, _ in writer2.submitted] == ["job-7-disc-1-try-1"]  # burned again
    assert states(core)[0] == ("burning", 1, 1, "")  # no step back to building
    # The writer that kept the key and finished meanwhile: not burned again.
    held.save({"job_id": 7, "discs_done": [], "disc": 1, "attempt": 0, "key": "job-7-disc-1-try-0"})
    writer3 = Writer()
    writer3.states["job-7-disc-1-try-0"] = [WriterProgress("done")]
    core.progress.clear()
    assert Worker(runner(tmp_path, core, writer3)).once() == "done"
    assert writer3.submitted == []
    # A writer still burning it: watched, not submitted again, done only at its end.
    held.save({"job_id": 7, "discs_done": [], "disc": 1, "attempt": 0, "key": "job-7-disc-1-try-0"})
    writer4 = Writer()
    writer4.states["job-7-disc-1-try-0"] = [
        WriterProgress("burning"),
        WriterProgress("failed", "burn_failed"),
    ]
    writer4.scripts = [[WriterProgress("done")]]
    core.progress.clear()
    assert Worker(runner(tmp_path, core, writer4)).once() == "done"
    assert [k for k, _, _ in writer4.submitted] == ["job-7-disc-1-try-1"]


def test_worker_resume_drops_a_job_that_ended_meanwhile(tmp_path: Path) -> None:
    core = Core()
    core.jobs = []
    core.job_state = "cancelled"
    HeldJob(tmp_path / "held.json").save(
        {"job_id": 7, "discs_done": [], "disc": 1, "attempt": 0, "key": "k"}
    )
    writer = Writer()
    worker = Worker(runner(tmp_path, core, writer))
    assert worker.once() is None
    assert writer.cancelled == ["k"] and not (tmp_path / "held.json").exists()
    assert worker.events.get_nowait() == WriterStatus(True, ())


def test_no_claim_while_the_writer_is_not_ok(tmp_path: Path) -> None:
    core = Core()
    writer = Writer()
    writer.robot = RobotState(False, ("out_of_ink",))
    worker = Worker(runner(tmp_path, core, writer))
    assert worker.once() is None
    assert core.jobs  # still queued in the core
    assert worker.events.get_nowait() == WriterStatus(False, ("out_of_ink",))
