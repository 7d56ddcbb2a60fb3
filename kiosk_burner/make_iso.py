"""``kiosk-burner make-iso --core-url URL --key KEY (--accession ACC | --study-uid UID) OUT.iso``:
the disc image of one exam exactly as the kiosk burns it, for the desk and for tests.

It goes the kiosk's own way, so nothing differs: identify the exam (``/api/discs/identify``
with the accession number, or the study UID, as the scanned code), queue a job for it, claim
it, and run it with the kiosk's :class:`JobRunner` and a writer that leaves the image at
``OUT.iso`` (``OUT-2.iso``... for the further discs of a study too large for one). The core
records the job like any other (done, who, when). The key is a kiosk device key; use a device
of its own (e.g. "desk-iso"): the claim takes that kiosk's oldest queued job, and make-iso
refuses to go on when that is not the job it just queued.
"""

from __future__ import annotations

import argparse
import os
import shutil
import sys
import tempfile
import uuid
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from device_kit.client import CoreClient, CoreRefused, CoreUnreachable
from device_kit.drivers import Availability
from device_kit.enrolment import Enrolment
from kiosk_burner.contract import DiscImage, Label, RobotState, WriterProgress
from kiosk_burner.worker import HeldJob, JobRunner, Timing


class FileWriter:
    """A writer that copies each disc image to its output path (at once, atomically)."""

    name = "make-iso output"

    def __init__(self, out: Path) -> None:
        self.out = out
        self.written: list[Path] = []

    def path_of(self, number: int) -> Path:
        return self.out if number == 1 else self.out.with_name(f"{self.out.stem}-{number}.iso")

    def is_available(self) -> Availability:
        return Availability(self.name)

    def robot_state(self) -> RobotState:
        return RobotState(ok=True)

    def submit(self, disc: DiscImage, label: Label, copies: int, key: str) -> None:
        path = self.path_of(disc.number)
        temporary = path.with_name(f".{path.name}.part")  # never a half image under its name
        shutil.copyfile(disc.iso_path, temporary)
        os.replace(temporary, path)
        self.written.append(path)

    def progress(self, key: str) -> WriterProgress:
        return WriterProgress("done")

    def cancel(self, key: str) -> None:
        return None


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="kiosk-burner make-iso", description=__doc__.split("\n")[0])
    p.add_argument("--core-url", required=True)
    p.add_argument("--key", required=True, help="a kiosk device key (a device of its own)")
    which = p.add_mutually_exclusive_group(required=True)
    which.add_argument("--accession", help="the exam's accession number")
    which.add_argument("--study-uid", help="the exam's Study Instance UID")
    p.add_argument("--medium", choices=("CD", "DVD"), default="", help="default: by size")
    p.add_argument("out", type=Path, help="the ISO file to write")
    return p


class MakeIsoError(RuntimeError):
    pass


def pick_exam(answer: dict[str, Any], accession: str | None, study_uid: str | None) -> int:
    exams = list(answer.get("exams") or [])
    if accession:
        found = [e for e in exams if e.get("accession_number") == accession]
    else:
        found = [e for e in exams if study_uid in (e.get("study_instance_uids") or [])]
        found = found or (exams if len(exams) == 1 else [])
    if not found:
        raise MakeIsoError(f"the core knows no exam {accession or study_uid} of this patient")
    exam = found[0]
    if not exam.get("may_burn"):
        raise MakeIsoError(
            f"exam {exam.get('accession_number')} may not be burned: {exam.get('why_not')}"
        )
    return int(exam["exam_id"])


def make_iso(
    client: CoreClient, out: Path, accession: str | None, study_uid: str | None, medium: str = ""
) -> list[Path]:
    answer = client.request("POST", "/api/discs/identify", {"code": accession or study_uid or ""})
    exam_id = pick_exam(answer, accession, study_uid)
    body = {"exam_ids": [exam_id], "copies": 1, "device": None}
    job = client.request("POST", "/api/discs", body, idempotency_key=uuid.uuid4().hex)
    claimed = client.request("POST", "/api/discs/claim")
    if not claimed or int(claimed["id"]) != int(job["id"]):
        raise MakeIsoError(
            f"this device has other jobs queued before job {job['id']} (claimed "
            f"{claimed and claimed['id']}): give make-iso a kiosk device of its own"
        )
    writer = FileWriter(out)
    with tempfile.TemporaryDirectory(prefix="make-iso-") as work:
        runner = JobRunner(
            client,
            writer,
            Path(work),
            HeldJob(Path(work) / "held-job.json"),
            timing=Timing(poll=0.1),
            medium=medium,
        )
        how = runner.run(claimed)
    if how != "done":
        raise MakeIsoError(f"job {job['id']} ended {how}")
    return writer.written


def main(argv: Sequence[str]) -> int:
    args = parser().parse_args(list(argv))
    try:
        record = Enrolment(args.core_url.rstrip("/"), args.key.strip())
        client = CoreClient(record, timeout=60)
        try:
            written = make_iso(client, args.out, args.accession, args.study_uid, args.medium)
        finally:
            client.close()
    except (ValueError, MakeIsoError, CoreRefused, CoreUnreachable) as error:
        print(f"kiosk-burner make-iso: {error}", file=sys.stderr)
        return 1
    for path in written:
        print(path)
    return 0
