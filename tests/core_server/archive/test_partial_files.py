"""Start-up's clean-up of half-written incoming files, with other core processes receiving
into the same shared folder (docs/cluster.md): it must never take a file away from them, and
a file one of them renames into place while the clean-up looks must not stop the start."""

from __future__ import annotations

import os
import time
from collections.abc import Iterator
from pathlib import Path

from core_server.archive.storage import StorageArea


class _Racing(type(Path())):  # type: ignore[misc]
    """An incoming folder whose listing names one more file, which another node adopted
    (renamed away) after the listing and before its look-up."""

    def iterdir(self) -> Iterator[Path]:
        yield from super().iterdir()
        yield self / "adopted-meanwhile.part"


def test_only_idle_files_go_and_a_vanished_one_is_skipped(tmp_path: Path) -> None:
    area = StorageArea(tmp_path)
    old = area.receive(b"left by a crash")
    hour_ago = time.time() - 7200
    os.utime(old, (hour_ago, hour_ago))
    receiving = area.receive(b"another node is writing this one")
    area.incoming = _Racing(area.incoming)

    assert area.remove_partial() == 1
    assert not old.exists() and receiving.exists()
