"""The viewer that runs from the disc (docs/kiosk-viewer.md says which, and why): the
hospital drops its files into the ``viewer`` folder setting; they are copied to the disc's
root beside the PDI content, with an ``AUTORUN.INF`` naming the program to start."""

from __future__ import annotations

import os
import shutil
from dataclasses import dataclass
from pathlib import Path

# Names PDI gives a meaning at the root: a viewer may not bring its own.
RESERVED = {"DICOM", "DICOMDIR", "IHE_PDI", "INDEX.HTM", "README.TXT", "REPORTS", "AUTORUN.INF"}


class ViewerProblem(ValueError):
    """The viewer folder cannot go on a disc as configured (said to the administrator)."""


@dataclass(frozen=True)
class Viewer:
    folder: Path
    launch: str  # the program to start, relative to the folder (e.g. viewer-win32.exe)

    def check(self) -> None:
        if not self.folder.is_dir():
            raise ViewerProblem(f"viewer folder {self.folder} does not exist")
        if not (self.folder / self.launch).is_file():
            raise ViewerProblem(f"viewer program {self.launch} is not in {self.folder}")
        clash = {p.name.upper() for p in self.folder.iterdir()} & RESERVED
        if clash:
            raise ViewerProblem(f"viewer folder holds names the disc needs: {sorted(clash)}")

    def size(self) -> int:
        return sum(p.stat().st_size for p in self.folder.rglob("*") if p.is_file())


def autorun(launch: str, label: str) -> str:
    """Windows reads AUTORUN.INF in the root (readers may ignore it: IHE says not to rely
    on auto-start, so INDEX.HTM and README.TXT name the program too)."""
    program = launch.replace("/", "\\")
    return f"[autorun]\r\nopen={program}\r\nicon={program}\r\nlabel={label}\r\n"


def copy_viewer(viewer: Viewer, root: Path, label: str) -> None:
    viewer.check()
    for item in viewer.folder.iterdir():
        target = root / item.name
        if item.is_dir():
            shutil.copytree(item, target, copy_function=_link_or_copy)
        else:
            _link_or_copy(str(item), str(target))
    (root / "AUTORUN.INF").write_text(autorun(viewer.launch, label), encoding="ascii")


def _link_or_copy(src: str, dst: str) -> str:
    try:
        os.link(src, dst)
    except OSError:
        shutil.copy2(src, dst)
    return dst
