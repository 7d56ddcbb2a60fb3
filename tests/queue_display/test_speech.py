"""Speech with the real espeak-ng and the real player: the WAV is checked,
and with no sound card here the player's failure must come out as an error."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest

from device_kit.drivers import HardwareError
from queue_display.hardware import DEFAULT_VOICE, EspeakSpeaker, check_wav


def test_espeak_ng_has_the_pinyin_mandarin_voice() -> None:
    # `espeak-ng --voices=sit` lists nothing on espeak-ng 1.51 (it filters by language, not
    # by folder); the language filter shows the voice and its file.
    voices = subprocess.run(
        ["espeak-ng", "--voices=cmn"], capture_output=True, text=True, check=True
    ).stdout
    assert "sit/cmn-Latn-pinyin" in voices
    assert DEFAULT_VOICE == "sit/cmn-Latn-pinyin"


def test_call_becomes_a_mandarin_wav(tmp_path: Path) -> None:
    speaker = EspeakSpeaker(wav_dir=tmp_path)
    assert speaker.is_available().ok, speaker.is_available().message()
    wav = speaker.make_wav("请CT015号李四到CT一室检查", tmp_path / "call.wav", rate=150)
    channels, rate, frames = check_wav(wav)
    assert (channels, rate) == (1, 22050)
    assert frames > 22050  # more than a second of speech

    # The same call read by the English voice is another sound: the configured voice is used.
    english = EspeakSpeaker("gmw/en", wav_dir=tmp_path).make_wav(
        "请CT015号李四到CT一室检查", tmp_path / "english.wav", rate=150
    )
    assert abs(check_wav(english)[2] - frames) > frames * 0.2


def test_player_failure_is_reported_not_hidden(tmp_path: Path) -> None:
    if not shutil.which("aplay"):
        pytest.skip("aplay (alsa-utils) is not installed")
    speaker = EspeakSpeaker(wav_dir=tmp_path, audio_device="hw:99,0")  # no such card anywhere
    with pytest.raises(HardwareError) as failure:
        speaker.speak("请CT015号李四到CT一室检查", repeat=2)
    assert failure.value.reason == "speech_failed"
    assert "aplay exited with" in str(failure.value)


def test_missing_voice_and_player_are_named(tmp_path: Path) -> None:
    with pytest.raises(HardwareError, match=r"voice sit/xx-none: .*does not exist"):
        EspeakSpeaker("sit/xx-none", wav_dir=tmp_path).make_wav("x", tmp_path / "x.wav")
    missing = EspeakSpeaker(player=("no-such-player",)).is_available()
    assert not missing.ok and "program no-such-player" in missing.missing
