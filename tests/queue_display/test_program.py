"""The installed ``queue-display`` command as systemd runs it (SDL's dummy video driver,
``--screenshot-dir``), against a real core; SIGTERM ends it cleanly."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pygame

from queue_display.ui import PANEL
from tests.conftest import RunningCore
from tests.device_kit.core_setup import enrol, setup_ct


def panel_pixels(png: Path) -> int:
    image = pygame.image.load(str(png))
    return int(pygame.mask.from_threshold(image, PANEL, (1, 1, 1, 255)).count())


def test_command_runs_draws_frames_and_stops_on_sigterm(core: RunningCore, tmp_path: Path) -> None:
    admin = setup_ct(core)
    enrol(admin, tmp_path, "hall-screen", "screen", screen="1F")
    frames = tmp_path / "frames"
    command = Path(sys.executable).parent / "queue-display"
    env = {
        **os.environ,
        "SDL_VIDEODRIVER": "dummy",
        "SDL_AUDIODRIVER": "dummy",
        "QUEUE_DISPLAY_STATE_DIR": str(tmp_path),
        "QUEUE_DISPLAY_WINDOW_SIZE": "1280x720",
        "QUEUE_DISPLAY_FULLSCREEN": "false",
    }
    process = subprocess.Popen(
        [str(command), "run", "--screenshot-dir", str(frames)],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        # The first frames say "connecting"; wait for one with the core's queue panel drawn.
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline and process.poll() is None:
            if any(panel_pixels(f) > 200_000 for f in sorted(frames.glob("frame-*.png"))[-2:]):
                break
            time.sleep(0.1)
        else:
            raise AssertionError("no frame showed the queue")
        assert process.poll() is None, process.communicate()
        process.send_signal(signal.SIGTERM)
        out, err = process.communicate(timeout=30)
    finally:
        if process.poll() is None:
            process.kill()
    assert process.returncode == 0, err
    assert "pygame" not in out  # no greeting on the journal
    assert len(list(frames.glob("frame-*.png"))) >= 2
