"""What the update tests share: a small fake update folder and the box's updater, loaded from
the image's tree as the box runs it (it is a script, not a package)."""

from __future__ import annotations

import hashlib
import importlib.util
import sys
from pathlib import Path
from types import ModuleType

UPDATER = (
    Path(__file__).resolve().parents[3] / "images/common/extra/usr/lib/imaging/imaging_update.py"
)


def updater() -> ModuleType:
    spec = importlib.util.spec_from_file_location("imaging_update", UPDATER)
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up
    spec.loader.exec_module(module)
    return module


def update_folder(folder: Path, role: str, *versions: str, size: int = 300_000) -> Path:
    """``imaging-<role>_<v>.root.raw`` and ``.efi`` for each version, and SHA256SUMS, as
    images/make-update.sh leaves them (small: the content does not matter here)."""
    folder.mkdir(parents=True, exist_ok=True)
    lines = []
    for version in versions:
        for kind, length in (("root.raw", size), ("efi", size // 10)):
            name = f"imaging-{role}_{version}.{kind}"
            data = hashlib.sha512(name.encode()).digest() * (length // 64 + 1)
            (folder / name).write_bytes(data[:length])
            lines.append(f"{hashlib.sha256(data[:length]).hexdigest()}  {name}\n")
    (folder / "SHA256SUMS").write_text("".join(lines))
    return folder
