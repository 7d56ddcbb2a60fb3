"""Offline media: objects exported to a set (a folder, later burnt or carried away) under
``<location>/<label>/``. The set being filled is the area's ``label``; :func:`seal` writes the
set's manifest and the admin then starts the next label. The index (``archive_copies.volume``)
keeps which object is on which set. Reading needs the set back under ``<location>/<label>``
(mounted, or copied back): else :class:`~core_server.archive.areas.OfflineSet`.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

from core_server.archive.areas import AreaError, OfflineSet
from core_server.archive.areas.files import durable_copy, fsync_dir, sha256_of

MANIFEST = "MANIFEST.json"


class OfflineArea:
    kind = "offline"

    def __init__(self, name: str, root: Path, label: str, rank: int = 90) -> None:
        self.name = name
        self.root = root
        self.label = label
        self.rank = rank

    def _path(self, key: str) -> Path:
        path = (self.root / key).resolve()
        if not path.is_relative_to(self.root.resolve()):
            raise AreaError(f"key {key!r} leaves the area")
        return path

    def put(self, key: str, source: Path, sha256: str) -> str:
        if (self.root / self.label / MANIFEST).exists():
            raise AreaError(f"area {self.name}: set {self.label} is sealed; start a new label")
        stored = f"{self.label}/{key}"
        durable_copy(source, self._path(stored))
        return stored

    def _mounted(self, key: str) -> Path:
        label = key.split("/", 1)[0]
        if not (self.root / label).is_dir():
            raise OfflineSet(self.name, [label])
        return self._path(key)

    def get(self, key: str, target: Path) -> None:
        path = self._mounted(key)
        try:
            with path.open("rb") as src, target.open("wb") as dst:
                shutil.copyfileobj(src, dst, 1 << 20)
        except FileNotFoundError as e:
            raise AreaError(f"area {self.name}: {key} is not on its set") from e

    def delete(self, key: str) -> None:
        """Only while the set is here; a taken-away set's copy stays until it is destroyed."""
        label = key.split("/", 1)[0]
        if (self.root / label).is_dir():
            self._path(key).unlink(missing_ok=True)

    def exists(self, key: str) -> bool:
        return self._mounted(key).is_file()

    def check(self, key: str, size: int, sha256: str) -> bool:
        path = self._mounted(key)
        try:
            return path.stat().st_size == size and sha256_of(path) == sha256
        except FileNotFoundError:
            return False


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
