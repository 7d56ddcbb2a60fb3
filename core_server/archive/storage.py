"""The storage area: DICOM files on a local filesystem, written so that a crash never leaves a
half-written file under a final name.

Layout: ``<root>/YYYY/MM/DD/<study-hash>/<uuid>.dcm`` by date received, so that a day's work
sits together (for later tiering) and no folder grows without bound.
"""

from __future__ import annotations

import hashlib
import os
import uuid
from datetime import datetime
from pathlib import Path


class StorageArea:
    def __init__(self, root: Path) -> None:
        self.root = root
        self.root.mkdir(parents=True, exist_ok=True)

    def new_path(self, study_instance_uid: str, received_at: datetime) -> str:
        study_hash = hashlib.sha1(study_instance_uid.encode()).hexdigest()[:16]
        return f"{received_at:%Y/%m/%d}/{study_hash}/{uuid.uuid4().hex}.dcm"

    def absolute(self, relative: str) -> Path:
        return self.root / relative

    def write(self, relative: str, data: bytes) -> None:
        """Write, fsync, rename into place and fsync the folder: durable when it returns."""
        final = self.root / relative
        folder = final.parent
        if not folder.is_dir():
            folder.mkdir(parents=True, exist_ok=True)
            _fsync_dir(folder.parent)
        temporary = folder / f".{final.name}.part"
        fd = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o640)
        try:
            view = memoryview(data)
            while view:
                view = view[os.write(fd, view) :]
            os.fsync(fd)
        except BaseException:
            os.close(fd)
            temporary.unlink(missing_ok=True)
            raise
        os.close(fd)
        os.rename(temporary, final)
        _fsync_dir(folder)

    def read(self, relative: str) -> bytes:
        return (self.root / relative).read_bytes()

    def exists(self, relative: str, size: int) -> bool:
        try:
            return (self.root / relative).stat().st_size == size
        except OSError:
            return False

    def remove(self, relative: str) -> None:
        (self.root / relative).unlink(missing_ok=True)

    def walk(self, since: datetime | None = None) -> list[str]:
        """Every stored file, relative to the root (leftover ``.part`` files excluded); with
        ``since``, only the day folders from that date on."""
        return sorted(
            str(path.relative_to(self.root))
            for folder in self._day_folders(since)
            for path in folder.rglob("*.dcm")
            if not path.name.startswith(".")
        )

    def remove_partial(self, since: datetime | None = None) -> int:
        """Delete the temporary files a crash left behind mid-write."""
        removed = 0
        for folder in self._day_folders(since):
            for path in folder.rglob(".*.part"):
                path.unlink(missing_ok=True)
                removed += 1
        return removed

    def _day_folders(self, since: datetime | None) -> list[Path]:
        if since is None:
            return [self.root]
        first = since.strftime("%Y/%m/%d")
        return [
            day
            for day in self.root.glob("[0-9]*/[0-9]*/[0-9]*")
            if day.is_dir() and str(day.relative_to(self.root)) >= first
        ]


def _fsync_dir(folder: Path) -> None:
    fd = os.open(folder, os.O_RDONLY | os.O_DIRECTORY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)
