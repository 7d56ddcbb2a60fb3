"""The screen roles' drop-in (images/screen/50-screen.conf), checked without building an image:
what it sets is what the QEMU boot proved puts the program's picture on the screen
(docs/images.md, Screens). Fast, in the normal suite."""

from __future__ import annotations

from pathlib import Path

DROPIN = Path(__file__).resolve().parents[2] / "images" / "screen" / "50-screen.conf"


def _environment() -> dict[str, str]:
    values: dict[str, str] = {}
    for line in DROPIN.read_text().splitlines():
        if line.startswith("Environment="):
            name, _, value = line.removeprefix("Environment=").partition("=")
            values[name] = value
    return values


def test_pygame_window_surface_is_shown_through_gles2() -> None:
    # SDL's KMS/DRM back-end has EGL with OpenGL ES only: its default desktop-GL renderer for
    # the window surface drew nothing (the black screen), the GLES 2 one draws.
    environment = _environment()
    assert environment["SDL_FRAMEBUFFER_ACCELERATION"] == "opengles2"
    assert environment["SDL_RENDER_DRIVER"] == "opengles2"


def test_software_fallback_needs_no_runtime_code() -> None:
    # The units forbid writable+executable memory: llvmpipe's JIT would fail, softpipe does not.
    assert _environment()["GALLIUM_DRIVER"] == "softpipe"


def test_waits_for_the_provisioning_enrolment() -> None:
    assert "After=imaging-enrolment-seed.service" in DROPIN.read_text().splitlines()
