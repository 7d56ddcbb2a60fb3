"""Offline media: objects exported to a set (a folder, later burnt or carried away) under
``<location>/<label>/``. The set being filled is the area's ``label``; :func:`seal` writes the
set's manifest and the admin then starts the next label. The index (``archive_copies.volume``)
keeps which object is on which set. Reading needs the set back under ``<location>/<label>``
(mounted, or copied back): else :class:`~core_server.archive.areas.OfflineSet`.
"""

from __future__ import annotations

import json
from pathlib import Path

from core_server.archive.areas import AreaError, OfflineSet
from core_server.archive.areas.files import durable_copy, fsync_dir
from core_server.archive.areas.filesystem import FilesystemArea

MANIFEST = "MANIFEST.json"


class OfflineArea(FilesystemArea):
    """A filesystem area whose objects sit on labelled sets that may be taken away."""

    kind = "offline"

    def __init__(self, name: str, root: Path, label: str, rank: int = 90) -> None:
        super().__init__(name, root, rank)
        self.label = label

    def put(self, key: str, source: Path, sha256: str) -> str:
        if (self.root / self.label / MANIFEST).exists():
            raise AreaError(f"area {self.name}: set {self.label} is sealed; start a new label")
        stored = f"{self.label}/{key}"
        durable_copy(source, self._path(stored))
        return stored

    def _readable(self, key: str) -> Path:
        label = key.split("/", 1)[0]
        if not (self.root / label).is_dir():
            raise OfflineSet(self.name, [label])
        return self._path(key)

    def delete(self, key: str) -> None:
        """Only while the set is here; a taken-away set's copy stays until it is destroyed."""
        label = key.split("/", 1)[0]
        if (self.root / label).is_dir():
            self._path(key).unlink(missing_ok=True)


def seal(root: Path, label: str, entries: list[dict[str, object]]) -> Path:
    """Write the set's manifest (what is on it, with sizes and checksums): no more is added."""
    folder = root / label
    folder.mkdir(parents=True, exist_ok=True)
    manifest = folder / MANIFEST
    temporary = folder / f".{MANIFEST}.part"
    temporary.write_text(
        json.dumps({"label": label, "objects": entries}, ensure_ascii=False, indent=1)
    )
    source = temporary
    durable_copy(source, manifest)
    temporary.unlink(missing_ok=True)
    fsync_dir(folder)
    return manifest
