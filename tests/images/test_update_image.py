"""An A/B update applied in QEMU (tests/images/update_check.py): a disk-route image boots
version A, installs version B from an update folder served by this host, reboots into B with
the data partition kept, and boots A again once B's kernel is out of tries.

Slow (a new version's squashfs, then three boots under TCG): skipped unless ``IMAGES_TEST=1``
and ``IMAGES_UPDATE=path/to/imaging-<role>_<v>.raw`` (a disk-route image: ``IMAGE_BUILD=disk``,
the default). ``IMAGES_UPDATE_UNIT`` is the role's unit (queue-display.service).
"""

from __future__ import annotations

import os
import re
import subprocess
from pathlib import Path

import pytest

from tests.images import boot_check, update_check

# IMAGES_UPDATE, else the display's disk that make images built (disk route: an ESP).
IMAGE = os.environ.get("IMAGES_UPDATE") or str(boot_check.built("display") or "")
pytestmark = [
    pytest.mark.skipif(
        os.environ.get("IMAGES_TEST") != "1" or not IMAGE or not IMAGE.endswith(".raw"),
        reason="set IMAGES_TEST=1, IMAGES_UPDATE (or make images)",
    ),
    pytest.mark.timeout(5400),
]

TREE = Path(__file__).resolve().parents[2]
ARTIFACTS = TREE / "test-artifacts" / "images"


def test_update_goes_to_b_keeps_the_data_and_rolls_back_to_a(tmp_path: Path) -> None:
    image = Path(IMAGE)
    image_id, _, old = image.name.removesuffix(".raw").partition("_")
    new = f"{old}.1"
    updates = tmp_path / "updates"
    # B's kernel has the journal on the console: its log says why a unit (bless-boot) failed.
    env = {**os.environ, "SQUASHFS_ZSTD_LEVEL": "3", "TMPDIR": "/var/tmp",
           "IMAGE_CMDLINE_EXTRA": "systemd.journald.forward_to_console=1"}  # fmt: skip
    subprocess.run(
        [str(TREE / "images" / "make-update.sh"), str(image), new, str(updates)],
        check=True, env=env,
    )  # fmt: skip
    unit = os.environ.get("IMAGES_UPDATE_UNIT", "queue-display.service")

    done = update_and_log(image, updates, unit)

    first, rollback = done.console
    # Run 1: A found B at the host, wrote it into the empty slot and rebooted into it.
    assert f"imaging-update: running {image_id} {old}" in first
    assert f"imaging-update: installed {new} into /dev/vda3" in first
    in_b = first[first.index(f"imaging-update: running {image_id} {new}") :]
    # The data partition was kept: B reads the history A wrote there before the update.
    assert _history(in_b)[:2] == [old, new]
    # B's program draws its screen (update_check waits for it: update-b.png).
    assert (ARTIFACTS / "update-b.png").exists()
    # The update's signature was checked (a throwaway key given to the box as its credential).
    assert "REFUSED" not in first
    # B reached boot-complete.target and systemd-bless-boot marked it good: its kernel, put on
    # the ESP with three tries (+3) and counted down by systemd-boot (+2-1), has no counter
    # left in its name (read from the disk file with mdir once QEMU was off).
    assert done.blessing == "Finished systemd-bless-boot.service", done.blessing
    assert f"{image_id}_{new}.efi" in done.kernels, done.kernels
    assert f"{image_id}_{old}.efi" in done.kernels
    # Run 2: B's kernel out of tries, systemd-boot starts A; B is not installed again.
    assert f"imaging-update: running {image_id} {old}" in rollback
    assert (ARTIFACTS / "update-rollback-a.png").exists()
    assert f"imaging-update: {new} did not boot here (no tries left): skipped" in rollback
    assert _history(rollback[rollback.index(f"running {image_id} {old}") :])[:3] == [old, new, old]


def _history(console: str) -> list[str]:
    """The versions in the history imaging-update printed (journald forwards each line to the
    console with its own "[time] python3[pid]:" prefix)."""
    return re.findall(r"booted (\S+)", console)


def update_and_log(image: Path, updates: Path, unit: str) -> update_check.Updated:
    done = update_check.update_and_roll_back(image, updates, unit, ARTIFACTS)
    with (ARTIFACTS / "boot-times.txt").open("a") as log:
        times = ", ".join(f"{what} after {s:.0f} s" for what, s in done.seconds.items())
        log.write(f"{image.name} update (UEFI): {times}\n")
    return done
