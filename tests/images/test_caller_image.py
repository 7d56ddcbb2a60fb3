"""The caller terminal's appliance image (a second role by the same recipe and route as the
display) boots in QEMU into caller-terminal.service, and its screen is the caller's.

Slower still than the display's test, so opt-in beyond ``IMAGES_TEST=1``: it boots the image
``IMAGES_CALLER=path/to/imaging-caller_<v>.raw`` names (``IMAGE_BUILD=rootfs
images/build-image.sh caller OUT`` builds one); skipped without it.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from PIL import Image

from caller_terminal import ui
from tests.images import boot_check

IMAGE = boot_check.built("caller")  # IMAGES_CALLER, else what make images built
pytestmark = [
    pytest.mark.skipif(
        os.environ.get("IMAGES_TEST") != "1" or IMAGE is None,
        reason="set IMAGES_TEST=1 and IMAGES_CALLER=<image> (or make images)",
    ),
    pytest.mark.timeout(3600),
]

ARTIFACTS = Path(__file__).resolve().parents[2] / "test-artifacts" / "images"


def _caller_screen(picture: Image.Image) -> bool:
    """The caller's own screen: mostly its light background under its dark top bar
    (caller_terminal.ui's colours)."""
    colours = {colour: count for count, colour in picture.convert("RGB").getcolors(1 << 20) or []}
    dominant = max(colours, key=lambda colour: colours[colour], default=None)
    return dominant == ui.BACKGROUND and ui.TEXT in colours


def test_caller_image_boots_to_its_screen() -> None:
    assert IMAGE is not None
    image = IMAGE
    shot = ARTIFACTS / "caller-no-core.png"
    shot.unlink(missing_ok=True)

    booted = boot_check.boot(image, "caller-terminal.service", shot, shown=_caller_screen)
    with (ARTIFACTS / "boot-times.txt").open("a") as log:
        log.write(
            f"{image.name} ({booted.accelerator}): caller-terminal.service active after"
            f" {booted.seconds_to_active:.1f} s\n"
        )

    assert "Started caller-terminal.service" in booted.console
    with Image.open(shot) as picture:
        assert _caller_screen(picture), "the screen is not the caller's"
