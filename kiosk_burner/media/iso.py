"""The disc image: ISO 9660 level 1 (PS3.12 F.2.2: 8.3 upper-case names, at most 8 directory
levels, the File-set ID as the volume identifier) plus Joliet, so Windows shows the viewer's
own long names. Written by pycdlib (pure Python, pinned, streams the files from the disc
tree; no subprocess to find or time out), then hashed."""

from __future__ import annotations

import hashlib
import re
from pathlib import Path

import pycdlib

_BAD = re.compile(r"[^A-Z0-9_]")


def iso_name(name: str, is_dir: bool, taken: set[str]) -> str:
    """A level 1 name for ``name``: PDI's own names are already 8.3 and stay as they are;
    a viewer's long names are shortened (``WEASIS~1.JAR``), unique in their directory."""
    stem, _, ext = (
        name.upper().rpartition(".") if "." in name and not is_dir else (name.upper(), "", "")
    )
    stem, ext = _BAD.sub("_", stem) or "_", _BAD.sub("_", ext)[:3]
    candidate = stem[:8]
    n = 0
    while True:
        full = candidate + (f".{ext}" if ext else "")
        if full not in taken:
            taken.add(full)
            return full
        n += 1
        tail = f"~{n}"
        candidate = stem[: 8 - len(tail)] + tail


def _add_tree(iso: pycdlib.PyCdlib, folder: Path, iso_dir: str, joliet_dir: str) -> None:
    taken: set[str] = set()
    for item in sorted(folder.iterdir()):
        name = iso_name(item.name, item.is_dir(), taken)
        iso_path = f"{iso_dir}/{name}"
        joliet_path = f"{joliet_dir}/{item.name}"
        if item.is_dir():
            iso.add_directory(iso_path, joliet_path=joliet_path)
            _add_tree(iso, item, iso_path, joliet_path)
        else:
            # ECMA-119 7.5.1: the "." separator is always there (PS3.12: /DICOMDIR.;1).
            dotted = iso_path if "." in name else f"{iso_path}."
            iso.add_file(str(item), iso_path=f"{dotted};1", joliet_path=joliet_path)


def write_iso(root: Path, out: Path, volume_id: str) -> str:
    """Write ``root`` as ``out``; return the image's sha256."""
    iso = pycdlib.PyCdlib()
    iso.new(
        interchange_level=1,
        vol_ident=volume_id,
        app_ident_str="KIOSK_BURNER IHE PDI",
        joliet=3,
    )
    try:
        _add_tree(iso, root, "", "")
        out.parent.mkdir(parents=True, exist_ok=True)
        iso.write(str(out), blocksize=1 << 20)
    finally:
        iso.close()
    digest = hashlib.sha256()
    with out.open("rb") as image:
        while chunk := image.read(1 << 20):
            digest.update(chunk)
    return digest.hexdigest()
