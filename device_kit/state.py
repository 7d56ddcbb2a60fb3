"""Files a device keeps in its state folder, each written whole or not at all (a power cut
mid-write leaves the previous version): the enrolment, and the hospital logo as last fetched."""

from __future__ import annotations

import logging
import os
from pathlib import Path

log = logging.getLogger(__name__)


def write_atomically(path: Path, data: bytes, mode: int = 0o600) -> None:
    """Write ``data`` to a temporary file with ``mode`` from the start (never briefly readable
    by others), sync it, and rename it over ``path``."""
    path.parent.mkdir(parents=True, exist_ok=True)
    temporary = path.with_name(path.name + ".tmp")
    temporary.unlink(missing_ok=True)
    fd = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_EXCL, mode)
    with os.fdopen(fd, "wb") as f:
        f.write(data)
        f.flush()
        os.fsync(f.fileno())
    os.replace(temporary, path)


class CachedLogo:
    """The hospital logo as last fetched from the core, kept on disk: a screen or kiosk that
    starts while its core is unreachable still shows it, and a failed fetch keeps it."""

    def __init__(self, path: Path) -> None:
        self.path = path

    def load(self) -> bytes | None:
        try:
            return self.path.read_bytes() or None
        except OSError:
            return None

    def update(self, fetched: bytes | None, error: object = None) -> bytes | None:
        """The logo to show after a fetch: the new one (kept), none when the core has none
        (forgotten), the kept one when the fetch failed."""
        if error is not None:
            return self.load()
        try:
            if fetched:
                write_atomically(self.path, fetched, 0o644)
            else:
                self.path.unlink(missing_ok=True)
        except OSError as exc:  # a full or read-only disk: show it all the same
            log.warning("the hospital logo could not be kept in %s: %s", self.path, exc)
        return fetched or None
