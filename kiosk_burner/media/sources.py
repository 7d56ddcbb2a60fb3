"""Where a disc's DICOM objects and report PDFs come from: the core over REST (the kiosk and
``make-iso``) or a folder of Part 10 files (tests, and ``make-iso`` from files)."""

from __future__ import annotations

from pathlib import Path
from typing import Any, Protocol
from urllib.parse import quote

from pydicom import dcmread
from pydicom.errors import InvalidDicomError

from device_kit.client import CoreRefused


class InstanceSource(Protocol):
    def instances(self) -> list[dict[str, Any]]:
        """``[{"study_instance_uid", "series_instance_uid", "sop_instance_uid", "size"}]``."""
        ...

    def fetch(self, sop_instance_uid: str) -> bytes:
        """The archived Part 10 file, byte for byte."""
        ...

    def report_pdf(self, exam_id: int) -> bytes | None: ...


class CoreClientLike(Protocol):
    """What :class:`device_kit.client.CoreClient` offers that the source needs."""

    def get(self, path: str) -> Any: ...

    def get_bytes(self, path: str) -> bytes: ...


class CoreInstanceSource:
    """The job's objects through the core's ``/api/discs/{id}/instances[...]`` (only the job's
    exams are served) and ``/api/discs/{id}/reports/{exam_id}.pdf`` (404 when unsigned)."""

    def __init__(self, client: CoreClientLike, job_id: int) -> None:
        self.client = client
        self.job_id = job_id

    def instances(self) -> list[dict[str, Any]]:
        return list(self.client.get(f"/api/discs/{self.job_id}/instances"))

    def fetch(self, sop_instance_uid: str) -> bytes:
        uid = quote(sop_instance_uid, safe="")
        return self.client.get_bytes(f"/api/discs/{self.job_id}/instances/{uid}")

    def report_pdf(self, exam_id: int) -> bytes | None:
        try:
            return self.client.get_bytes(f"/api/discs/{self.job_id}/reports/{exam_id}.pdf")
        except CoreRefused as refusal:
            if refusal.status == 404:
                return None
            raise


class FolderInstanceSource:
    """Every Part 10 file under ``folder`` (recursively); report PDFs as
    ``folder/reports/<exam_id>.pdf``. Non-DICOM files are skipped."""

    def __init__(self, folder: Path) -> None:
        self.folder = Path(folder)
        self._paths: dict[str, Path] | None = None
        self._rows: list[dict[str, Any]] = []

    def _scan(self) -> dict[str, Path]:
        if self._paths is None:
            self._paths = {}
            for path in sorted(p for p in self.folder.rglob("*") if p.is_file()):
                if path.suffix.lower() == ".pdf":
                    continue
                try:
                    ds = dcmread(path, stop_before_pixels=True)
                except (InvalidDicomError, OSError):
                    continue
                uid = str(ds.SOPInstanceUID)
                self._paths[uid] = path
                self._rows.append(
                    {
                        "study_instance_uid": str(ds.StudyInstanceUID),
                        "series_instance_uid": str(ds.SeriesInstanceUID),
                        "sop_instance_uid": uid,
                        "size": path.stat().st_size,
                    }
                )
        return self._paths

    def instances(self) -> list[dict[str, Any]]:
        self._scan()
        return list(self._rows)

    def fetch(self, sop_instance_uid: str) -> bytes:
        return self._scan()[sop_instance_uid].read_bytes()

    def report_pdf(self, exam_id: int) -> bytes | None:
        path = self.folder / "reports" / f"{exam_id}.pdf"
        return path.read_bytes() if path.is_file() else None
