"""A second local or NAS folder as a storage area."""

from __future__ import annotations

import shutil
from pathlib import Path

from core_server.archive.areas import AreaError
from core_server.archive.areas.files import durable_copy, sha256_of


class FilesystemArea:
    kind = "filesystem"

    def __init__(self, name: str, root: Path, rank: int = 10) -> None:
        self.name = name
        self.root = root
        self.rank = rank

    def _path(self, key: str) -> Path:
        path = (self.root / key).resolve()
        if not path.is_relative_to(self.root.resolve()):
            raise AreaError(f"key {key!r} leaves the area")
        return path

    def put(self, key: str, source: Path, sha256: str) -> str:
        if not self.root.is_dir():
            raise AreaError(f"area {self.name}: folder {self.root} is not there")
        durable_copy(source, self._path(key))
        return key

    def _readable(self, key: str) -> Path:
        """Where ``key`` is read from (an offline set first checks that it is mounted)."""
        return self._path(key)

    def get(self, key: str, target: Path) -> None:
        try:
            with self._readable(key).open("rb") as src, target.open("wb") as dst:
                shutil.copyfileobj(src, dst, 1 << 20)
        except FileNotFoundError as e:
            raise AreaError(f"area {self.name}: {key} is not there") from e

    def delete(self, key: str) -> None:
        self._path(key).unlink(missing_ok=True)

    def exists(self, key: str) -> bool:
        return self._readable(key).is_file()

    def check(self, key: str, size: int, sha256: str) -> bool:
        """Read back whole and hash (a filesystem has no checksum of its own)."""
        path = self._readable(key)
        try:
            return path.stat().st_size == size and sha256_of(path) == sha256
        except FileNotFoundError:
            return False
