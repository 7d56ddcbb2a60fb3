"""The job runner: claims this kiosk's disc jobs from the core, builds their disc images
(``kiosk_burner.media``), burns each through the :class:`DiscWriter`, and reports every step
(``POST /api/discs/{id}/progress``, which also renews the job's lease).

What survives a restart: the job being burned, the disc and the writer key of its last
attempt, in ``held-job.json``. A job is reported done only after the writer said each of its
discs is done; after a restart the runner asks the writer about the saved key first, so a
disc burned while the kiosk was down is not burned again and a half-burned one is not done.
The core answering 409 ``discs.cancelled`` (or the patient's cancel) stops the job and the
writer.
"""

from __future__ import annotations

import contextlib
import importlib
import json
import logging
import queue
import shutil
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

from device_kit.client import CoreRefused, CoreUnreachable
from device_kit.state import write_atomically
from kiosk_burner.app import DESK_REASONS, RETRIED_REASONS, JobStep, WriterStatus
from kiosk_burner.contract import DiscImage, DiscWriter, Label, Manifest, WriterProgress

log = logging.getLogger(__name__)
ACTIVE = ("building", "burning", "labelling")


class Core(Protocol):
    """What the runner uses of :class:`device_kit.client.CoreClient`."""

    def request(
        self,
        method: str,
        path: str,
        body: dict[str, Any] | None = None,
        idempotency_key: str | None = None,
    ) -> Any: ...

    def get(self, path: str) -> Any: ...

    def get_bytes(self, path: str) -> bytes: ...


# (manifest, core client, job id, work folder, medium or "") -> the built disc images
Builder = Callable[[Manifest, Any, int, Path, str], list[DiscImage]]


def build_with_core(
    manifest: Manifest, client: Any, job_id: int, workdir: Path, medium: str = ""
) -> list[DiscImage]:
    """The real build: ``kiosk_burner.media`` over the job's REST calls."""
    media: Any = importlib.import_module("kiosk_burner.media")
    source = media.CoreInstanceSource(client, job_id)
    images: list[DiscImage] = media.build_discs(manifest, source, workdir, medium=medium or None)
    return images


class JobCancelled(Exception):
    """The core (or the patient) cancelled the job."""


class JobLost(Exception):
    """The core no longer lets this kiosk report on the job (another holder, a wrong step)."""


class BurnFailed(Exception):
    def __init__(self, reason: str, detail: str = "") -> None:
        super().__init__(detail or reason)
        self.reason = reason


@dataclass
class Timing:
    poll: float = 1.0
    heartbeat: float = 30.0
    attempts: int = 3
    desk_wait: float = 1800.0


def label_for(manifest: Manifest, disc: DiscImage) -> Label:
    on_disc = set(disc.accession_numbers)
    exams = [e for e in manifest.exams if not on_disc or e.accession_number in on_disc]
    return Label(
        hospital_name=manifest.hospital_name,
        patient_name=manifest.patient_name,
        exam_lines=tuple(f"{e.exam_date} {e.procedure}" for e in exams),
        disc_number=disc.number,
        discs=disc.of,
        qr_url=manifest.qr_url,
    )


class HeldJob:
    """The job this kiosk is burning, on disk (atomic writes)."""

    def __init__(self, path: Path) -> None:
        self.path = path

    def load(self) -> dict[str, Any] | None:
        try:
            data: dict[str, Any] = json.loads(self.path.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            return None
        return data

    def save(self, data: dict[str, Any]) -> None:
        write_atomically(self.path, json.dumps(data).encode(), 0o600)

    def clear(self) -> None:
        self.path.unlink(missing_ok=True)


class JobRunner:
    """Runs one claimed job to its end (synchronous: the :class:`Worker` thread calls it)."""

    def __init__(
        self,
        core: Core,
        writer: DiscWriter,
        work_dir: Path,
        held: HeldJob,
        report: Callable[[JobStep], None] = lambda step: None,
        builder: Builder = build_with_core,
        timing: Timing | None = None,
        medium: str = "",
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self.core, self.writer, self.work_dir, self.held = core, writer, work_dir, held
        self.report, self.builder, self.medium, self.sleep = report, builder, medium, sleep
        self.timing = timing or Timing()
        self.cancelled: set[int] = set()  # jobs the patient cancelled here
        self._last_report = 0.0
        self._state = "building"  # the job's state as last reported

    def run(self, job: dict[str, Any]) -> str:
        """The job's last state as this kiosk saw it: done, failed, cancelled or lost."""
        job_id = int(job["id"])
        held = self.held.load()
        if not held or held.get("job_id") != job_id:
            held = {"job_id": job_id, "discs_done": [], "disc": 0, "attempt": -1}
            self.held.save(held)
        folder = self.work_dir / f"job-{job_id}"
        key = ""
        # A claimed job is building; one resumed after a restart may be burning already
        # (the core refuses a step back).
        self._state = str(job.get("state") or "building")
        try:
            if self._state == "building":
                self._progress(job_id, "building")
            manifest = Manifest.from_json(self.core.get(f"/api/discs/{job_id}/manifest"))
            discs = self._build(job_id, manifest, folder)
            for disc in discs:
                if disc.number in held["discs_done"]:
                    continue  # burned before a restart, the writer said so then
                key = self._burn(job_id, manifest, disc, held)
                held["discs_done"].append(disc.number)
                self.held.save(held)
            self._progress(job_id, "done", disc=len(discs), discs=len(discs), must=True)
            return self._end(job_id, "done", folder)
        except JobCancelled:
            if key or held.get("key"):
                self.writer.cancel(key or held["key"])
            return self._end(job_id, "cancelled", folder)
        except JobLost as lost:
            log.warning("job %s: the core took it back: %s", job_id, lost)
            if held.get("key"):
                self.writer.cancel(held["key"])
            return self._end(job_id, "lost", folder)
        except BurnFailed as failed:
            log.error("job %s failed: %s (%s)", job_id, failed.reason, failed)
            self._fail(job_id, failed.reason, str(failed))
            return self._end(job_id, "failed", folder)
        except (CoreUnreachable, CoreRefused) as error:
            # Before any disc was burned (manifest, instances): the lease will run out and
            # the core puts the job back in the queue; nothing was reported done.
            log.error("job %s stopped, the core did not answer: %s", job_id, error)
            return self._end(job_id, "lost", folder)

    # -- steps ------------------------------------------------------------------------

    def _build(self, job_id: int, manifest: Manifest, folder: Path) -> list[DiscImage]:
        """Build with a heartbeat: a big study takes longer than the lease."""
        stop = threading.Event()

        def beat() -> None:
            while not stop.wait(self.timing.heartbeat):
                try:
                    self._progress(job_id, self._state)
                except (JobCancelled, JobLost):
                    self.cancelled.add(job_id)  # the build's end stops the job
                    return

        beating = threading.Thread(target=beat, name="build-heartbeat", daemon=True)
        beating.start()
        try:
            shutil.rmtree(folder, ignore_errors=True)
            folder.mkdir(parents=True)
            try:
                return self.builder(manifest, self.core, job_id, folder, self.medium)
            except (CoreUnreachable, CoreRefused):
                raise
            except Exception as error:  # a broken object, a full disk: the desk must look
                log.exception("job %s: building the disc image failed", job_id)
                raise BurnFailed("build_failed", repr(error)) from error
        finally:
            stop.set()
            beating.join(timeout=5)
            if job_id in self.cancelled:
                raise JobCancelled()

    def _burn(self, job_id: int, manifest: Manifest, disc: DiscImage, held: dict[str, Any]) -> str:
        """Burn one image: a failed burn or verify is tried again on a new disc; a robot
        needing the desk waits (reporting why) until it is fixed."""
        label = label_for(manifest, disc)
        attempt, failures, waited_since = self._resumed(held, disc.number), 0, None
        while True:
            key = f"job-{job_id}-disc-{disc.number}-try-{attempt}"
            if held.get("key") != key:
                held.update(disc=disc.number, attempt=attempt, key=key)
                self.held.save(held)
                self.writer.submit(disc, label, manifest.copies, key)
            # Before watching: the core hears of disc n/m even if the writer is done at once.
            self._progress(job_id, "burning", disc=disc.number, discs=disc.of)
            result = self._watch(job_id, key, disc)
            if result.state == "done":
                return key
            if result.state == "cancelled":
                if job_id in self.cancelled:
                    raise JobCancelled()
                # Not asked for by the patient or the core (e.g. the key was cancelled when
                # the core took the job back, and the job came back to this kiosk): the disc
                # is not known good, so burn it again on a new disc under a new key.
                result = WriterProgress("failed", "burn_failed", "cancelled at the writer")
            if result.reason in RETRIED_REASONS:
                failures += 1
                if failures >= self.timing.attempts:
                    raise BurnFailed(result.reason, result.detail)
            elif result.reason in DESK_REASONS:
                waited_since = waited_since or time.monotonic()
                self._wait_for_desk(job_id, disc, result, waited_since)
            else:
                raise BurnFailed(result.reason or "burn_failed", result.detail)
            log.warning("job %s disc %s: %s, again on a new disc", job_id, disc.number, result)
            self._progress(
                job_id, "burning", disc=disc.number, discs=disc.of, reason=result.reason, must=True
            )
            attempt += 1

    def _resumed(self, held: dict[str, Any], number: int) -> int:
        """The attempt to go on with after a restart: the saved one if the writer still has
        it (burning, or done while the kiosk was down), else the next one on a new disc."""
        if held.get("disc") != number:
            return 0
        if held.get("key"):
            try:
                state = self.writer.progress(held["key"]).state
            except Exception:  # the writer does not know the key (it restarted too)
                state = "failed"
            if state not in ("failed", "cancelled"):
                return int(held["attempt"])
        held["key"] = ""
        return int(held["attempt"]) + 1

    def _watch(self, job_id: int, key: str, disc: DiscImage) -> WriterProgress:
        shown = "burning"
        while True:
            if job_id in self.cancelled:
                raise JobCancelled()
            result = self.writer.progress(key)
            if result.state in ("done", "failed", "cancelled"):
                return result
            step = "labelling" if result.state == "labelling" else "burning"
            self._progress(
                job_id, step, disc=disc.number, discs=disc.of, must=step != shown, quiet=True
            )
            shown = step
            self.sleep(self.timing.poll)

    def _wait_for_desk(
        self, job_id: int, disc: DiscImage, result: WriterProgress, since: float
    ) -> None:
        while True:
            if time.monotonic() - since > self.timing.desk_wait:
                raise BurnFailed(result.reason, result.detail)
            self._progress(job_id, "burning", disc=disc.number, discs=disc.of, reason=result.reason)
            if job_id in self.cancelled:
                raise JobCancelled()
            if self.writer.robot_state().ok:
                return
            self.sleep(self.timing.poll)

    # -- the core ---------------------------------------------------------------------

    def _progress(
        self,
        job_id: int,
        state: str,
        disc: int = 0,
        discs: int = 0,
        reason: str = "",
        must: bool = True,
        quiet: bool = False,
    ) -> None:
        """Report a step (and tell the screen). ``quiet``: only if the heartbeat is due.
        A step the core did not get is logged and sent again with the next one; "done" and
        "failed" are retried until the core has them."""
        self._state = state
        due = time.monotonic() - self._last_report >= self.timing.heartbeat
        step = JobStep(job_id, state, disc, discs, reason)
        if quiet and not must and not due:
            self.report(step)
            return
        body: dict[str, Any] = {"state": state, "message": "", "reason": reason}
        if disc:  # the core takes 1.. or nothing
            body.update(disc=disc, discs=discs)
        final = state in ("done", "failed")
        while True:
            try:
                self.core.request("POST", f"/api/discs/{job_id}/progress", body)
                self._last_report = time.monotonic()
                self.report(step)  # after the core has it: the screen never runs ahead
                return
            except CoreRefused as refusal:
                if refusal.code == "discs.cancelled":
                    raise JobCancelled() from refusal
                raise JobLost(f"{refusal.code}: {refusal.message}") from refusal
            except CoreUnreachable as error:
                log.warning("job %s: progress %s not reported: %s", job_id, state, error)
                if not final:
                    self.report(step)
                    return
                self.sleep(self.timing.poll)

    def _fail(self, job_id: int, reason: str, detail: str) -> None:
        with contextlib.suppress(JobCancelled, JobLost):
            self._progress(job_id, "failed", reason=reason)

    def _end(self, job_id: int, how: str, folder: Path) -> str:
        self.report(JobStep(job_id, how if how != "lost" else "failed"))
        self.held.clear()
        self.cancelled.discard(job_id)
        shutil.rmtree(folder, ignore_errors=True)
        return how


class Worker:
    """The runner's thread: resumes a job held before a restart, then claims and runs this
    kiosk's jobs one at a time while the writer works; posts steps for the screen."""

    def __init__(self, runner: JobRunner, claim_seconds: float = 3.0) -> None:
        self.runner = runner
        self.events: queue.Queue[JobStep | WriterStatus] = queue.Queue()
        self.runner.report = self.events.put
        self._claim = claim_seconds
        self._stop = threading.Event()
        self._writer: WriterStatus | None = None
        self._thread = threading.Thread(target=self._run, name="disc-worker", daemon=True)

    def start(self) -> Worker:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(timeout=5)

    def cancel(self, job_id: int) -> None:
        """The patient cancelled at the kiosk: stop the writer now, not at the next report."""
        self.runner.cancelled.add(job_id)

    def once(self) -> str | None:
        """One turn: resume or claim a job and run it. The job's end, or None if none."""
        robot = self.runner.writer.robot_state()
        status = WriterStatus(robot.ok, robot.problems)
        if status != self._writer:
            self._writer = status
            self.events.put(status)
        job = self._resume() or (self._claim_one() if robot.ok else None)
        return self.runner.run(job) if job else None

    def _resume(self) -> dict[str, Any] | None:
        held = self.runner.held.load()
        if not held:
            return None
        try:
            job: dict[str, Any] = self.runner.core.get(f"/api/discs/{held['job_id']}")
        except CoreUnreachable:
            return None
        except CoreRefused:
            self.runner.held.clear()
            return None
        if job.get("state") in ACTIVE:
            return job  # still ours: go on where the writer is
        if job.get("state") == "queued":
            return None  # the lease ran out: claiming it again resumes it
        if held.get("key"):
            self.runner.writer.cancel(held["key"])
        self.runner.held.clear()
        return None

    def _claim_one(self) -> dict[str, Any] | None:
        try:
            job: dict[str, Any] | None = self.runner.core.request("POST", "/api/discs/claim")
        except (CoreUnreachable, CoreRefused) as error:
            log.debug("no claim: %s", error)
            return None
        return job or None

    def _run(self) -> None:
        while not self._stop.is_set():
            try:
                ran = self.once()
            except Exception:  # logged; the kiosk keeps running and tries again
                log.exception("the disc worker failed")
                ran = None
            if ran is None:
                self._stop.wait(self._claim)
