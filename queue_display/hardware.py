"""The screen's speech: a ``Speaker`` interface, the real driver (espeak-ng writes a WAV,
``aplay`` plays it, both checked) and a recording fake."""

from __future__ import annotations

import logging
import subprocess
import tempfile
import wave
from dataclasses import dataclass, field
from pathlib import Path
from typing import Protocol

from device_kit.drivers import Availability, HardwareError, Needs

log = logging.getLogger(__name__)

# espeak-ng's Mandarin voice that reads Latin letters as pinyin: "CT015号" comes out right
# (the plain "cmn"/"zh" voices read 号 and letters as English).
DEFAULT_VOICE = "sit/cmn-Latn-pinyin"


class Speaker(Protocol):
    name: str

    def is_available(self) -> Availability: ...

    def speak(self, text: str, repeat: int = 1, rate: int | None = None) -> None:
        """Say ``text`` ``repeat`` times; HardwareError if it could not be heard."""
        ...


class EspeakSpeaker:
    """espeak-ng writes the WAV (headless, no sound card needed), then the player (``aplay``
    by default) plays it; every step's failure is raised, never silent.

    espeak-ng runs as a command, not through pyttsx3: pyttsx3 2.99 drives espeak in its
    asynchronous mode and its run loop ends before the audio is complete, so about one WAV in
    six was missing or cut short here (and its ``say()`` fails silently without a sound card).
    """

    name = "speech (espeak-ng + aplay)"

    def __init__(
        self,
        voice: str = DEFAULT_VOICE,
        player: tuple[str, ...] = ("aplay", "-q"),
        audio_device: str | None = None,
        wav_dir: Path | None = None,
    ) -> None:
        self.voice = voice
        self.player = player
        self.audio_device = audio_device
        self.wav_dir = wav_dir or Path(tempfile.gettempdir())

    def is_available(self) -> Availability:
        needs = Needs("speech").program("espeak-ng", "espeak-ng")
        needs.program(self.player[0], "alsa-utils" if self.player[0] == "aplay" else None)
        return needs.result()

    def make_wav(self, text: str, path: Path, rate: int | None = None) -> Path:
        command = ["espeak-ng", "-v", self.voice, "-w", str(path)]
        if rate:
            command += ["-s", str(rate)]  # words per minute
        path.unlink(missing_ok=True)
        try:
            done = subprocess.run(
                [*command, "--", text], capture_output=True, text=True, timeout=60
            )
        except (OSError, subprocess.TimeoutExpired) as error:
            raise HardwareError("speech_failed", f"espeak-ng failed: {error}") from error
        if done.returncode != 0:
            detail = done.stderr.strip() or f"exit status {done.returncode}"
            raise HardwareError("speech_failed", f"espeak-ng voice {self.voice}: {detail}")
        check_wav(path)
        return path

    def play(self, path: Path) -> None:
        command = list(self.player)
        if self.audio_device:
            command += ["-D", self.audio_device]
        try:
            done = subprocess.run([*command, str(path)], capture_output=True, text=True, timeout=60)
        except (OSError, subprocess.TimeoutExpired) as error:
            raise HardwareError("speech_failed", f"{command[0]} failed: {error}") from error
        if done.returncode != 0:
            last = (done.stderr.strip().splitlines() or ["no message"])[-1]
            raise HardwareError(
                "speech_failed", f"{command[0]} exited with {done.returncode}: {last}"
            )

    def speak(self, text: str, repeat: int = 1, rate: int | None = None) -> None:
        wav = self.make_wav(text, self.wav_dir / "queue-display-call.wav", rate)
        for _ in range(max(1, repeat)):
            self.play(wav)


def check_wav(path: Path) -> tuple[int, int, int]:
    """(channels, sample rate, frames) of a non-empty PCM WAV, or HardwareError."""
    try:
        with wave.open(str(path), "rb") as w:
            shape = (w.getnchannels(), w.getframerate(), w.getnframes())
    except (OSError, EOFError, wave.Error) as error:
        raise HardwareError("speech_failed", f"speech WAV {path} unreadable: {error}") from error
    if shape[2] == 0:
        raise HardwareError("speech_failed", f"speech WAV {path} is empty")
    return shape


@dataclass
class RecordingSpeaker:
    """The fake: records what would have been said; ``fail`` makes it fail like a dead player."""

    name: str = "recording speaker"
    spoken: list[tuple[str, int, int | None]] = field(default_factory=list)
    fail: str | None = None

    def is_available(self) -> Availability:
        return Availability(self.name)

    def speak(self, text: str, repeat: int = 1, rate: int | None = None) -> None:
        if self.fail:
            raise HardwareError("speech_failed", self.fail)
        self.spoken.append((text, repeat, rate))
