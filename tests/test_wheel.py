"""The project's wheel holds every file the programs read beside their code.

An editable install (the tests' venv) reads them from the tree, so a file left out of the
packaging shows only where the wheel is installed: the appliance images (the core's image once
started without 184 templates, scripts and messages). Built from a copy of the
tracked files (as from a fresh clone: a build's leftover egg-info in the tree would feed its
old file list to setuptools) the way images/build-image.sh builds it (pip's isolated build)."""

from __future__ import annotations

import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PACKAGES = (
    "core_server",
    "device_kit",
    "queue_display",
    "caller_terminal",
    "ticket_printer",
    "kiosk_burner",
    "capture_station",
)


def test_every_tracked_data_file_is_in_the_wheel(tmp_path: Path) -> None:
    def tracked(*paths: str) -> list[str]:
        run = subprocess.run(["git", "ls-files", "--", *paths], cwd=ROOT, capture_output=True)
        return run.stdout.decode().split()

    data = {p for p in tracked(*PACKAGES) if not p.endswith((".py", "README.md"))}
    assert any(p.endswith(".html") for p in data)  # the check has something to check
    clone = tmp_path / "clone"
    for name in tracked(*PACKAGES, "pyproject.toml", "README.md"):
        if (ROOT / name).is_file():  # a file deleted but not yet committed is skipped
            (clone / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(ROOT / name, clone / name)
    subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "-q", "--no-deps", "-w", str(tmp_path), clone],
        check=True,
        capture_output=True,
    )
    (wheel,) = tmp_path.glob("imaging_appliance-*.whl")
    with zipfile.ZipFile(wheel) as archive:
        packed = set(archive.namelist())
    assert sorted(data - packed) == []
