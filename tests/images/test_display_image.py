"""The display's appliance image boots in QEMU into queue-display.service, and its screen
(taken through QEMU's monitor) shows the program's "no core" screen.

Slow (an image build of several minutes, then a boot): skipped unless ``IMAGES_TEST=1``.
``IMAGES_DISPLAY=path/to/imaging-display_<v>.raw`` boots an image already built (what
``make images-test`` does after building it); otherwise the test builds one, by the rootfs route
(``IMAGE_BUILD=rootfs``: no FAT mounted, direct kernel boot) unless IMAGE_BUILD says otherwise.
"""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import pytest
from PIL import Image

from queue_display import ui
from tests.images import boot_check

pytestmark = [
    pytest.mark.skipif(os.environ.get("IMAGES_TEST") != "1", reason="set IMAGES_TEST=1"),
    pytest.mark.timeout(3600),
]

TREE = Path(__file__).resolve().parents[2]
ARTIFACTS = TREE / "test-artifacts" / "images"


def _display_image(tmp_path: Path) -> Path:
    given = boot_check.built("display")  # IMAGES_DISPLAY, else what make images built
    if given:
        return given
    out = tmp_path / "out"
    env = {**os.environ, "IMAGE_BUILD": os.environ.get("IMAGE_BUILD", "rootfs")}
    subprocess.run(
        [str(TREE / "images" / "build-image.sh"), "display", str(out)], check=True, env=env
    )
    return next((out / "display").glob("imaging-display_*.raw"))


def _no_core_screen(picture: Image.Image) -> bool:
    """The display's own screen: mostly its background, its header bar, the red "offline"
    badge of a display whose core cannot be reached (queue_display.ui's colours)."""
    colours = {colour: count for count, colour in picture.convert("RGB").getcolors(1 << 20) or []}
    dominant = max(colours, key=lambda colour: colours[colour], default=None)
    return dominant == ui.BACKGROUND and ui.HEADER in colours and ui.OFFLINE in colours


def test_display_image_boots_to_its_no_core_screen(tmp_path: Path) -> None:
    image = _display_image(tmp_path)
    shot = ARTIFACTS / "display-no-core.png"
    shot.unlink(missing_ok=True)

    booted = boot_check.boot(image, "queue-display.service", shot, shown=_no_core_screen)
    how = "direct kernel" if boot_check.direct_kernel(image) else "UEFI"
    with (ARTIFACTS / "boot-times.txt").open("a") as log:
        log.write(
            f"{image.name} ({how}, {booted.accelerator}): queue-display.service active after"
            f" {booted.seconds_to_active:.1f} s\n"
        )

    assert "Started queue-display.service" in booted.console
    # The first boot made the data partition and mounted it at /var/lib.
    assert "systemd-repart" in booted.console or "var-lib.mount" in booted.console
    with Image.open(shot) as picture:
        assert picture.size[0] >= 640
        assert _no_core_screen(picture), "the screen is not the display's"
