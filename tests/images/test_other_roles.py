"""The other roles' images (the same recipe and route as the display's) boot in QEMU until
their program's unit is active. Opt-in beyond ``IMAGES_TEST=1``, one variable per role naming a
built image: ``IMAGES_CORE``, ``IMAGES_PRINTER``, ``IMAGES_KIOSK``, ``IMAGES_CAPTURE``
(``images/build-image.sh <role> OUT`` builds one), else the newest that ``make images`` left in
``IMAGES_OUT`` (``boot_check.built``); a role with neither is skipped. The core has no screen:
no screenshot; the device roles' screens are checked as drawn (any picture, not the text
console).
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from tests.images import boot_check

pytestmark = [
    pytest.mark.skipif(os.environ.get("IMAGES_TEST") != "1", reason="set IMAGES_TEST=1"),
    pytest.mark.timeout(3600),
]

ARTIFACTS = Path(__file__).resolve().parents[2] / "test-artifacts" / "images"
ROLES = {
    "core": ("IMAGES_CORE", "core-server.service", False),
    "printer": ("IMAGES_PRINTER", "ticket-printer.service", True),
    "kiosk": ("IMAGES_KIOSK", "kiosk-burner.service", True),
    "capture": ("IMAGES_CAPTURE", "capture-station.service", True),
}


@pytest.mark.parametrize("role", list(ROLES))
def test_role_image_boots_to_its_unit(role: str) -> None:
    variable, unit, screen = ROLES[role]
    image = boot_check.built(role)
    if image is None:
        pytest.skip(f"no {role} image built: set {variable}=<image> or make images")
    shot = ARTIFACTS / f"{role}.png"
    shot.unlink(missing_ok=True)

    # The core's Python start (imports, migrations on first boot) under TCG on a loaded host
    # took longer than the 600 s the device roles get: it was still starting at 600 s.
    timeout = 600 if screen else 1800
    # The core: its web port forwarded to this host; its answer counts (the Started line may
    # not come: boot_check._wait_for_unit).
    booted = boot_check.boot(
        image, unit, shot, timeout=timeout, shown=boot_check.drawn if screen else None,
        http_port=None if screen else 8080,
    )  # fmt: skip
    how = "direct kernel" if boot_check.direct_kernel(image) else "UEFI"
    with (ARTIFACTS / "boot-times.txt").open("a") as log:
        log.write(
            f"{image.name} ({how}, {booted.accelerator}): {unit} active after"
            f" {booted.seconds_to_active:.1f} s\n"
        )

    if screen:
        assert f"Started {unit}" in booted.console
    else:
        # core-server serves: / redirects to the sign-in page.
        assert booted.answered == 303, booted.answered
    if screen:
        assert shot.exists()
