"""Speech with the real espeak-ng and the real player: the WAV is checked,
and with no sound card here the player's failure must come out as an error."""

from __future__ import annotations

import shutil
import subprocess
import wave
from pathlib import Path

import numpy as np
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


def wav_samples(path: Path) -> tuple[float, float]:
    """(seconds, RMS of the 16-bit samples as a fraction of full scale) of a mono PCM WAV."""
    with wave.open(str(path), "rb") as w:
        assert w.getsampwidth() == 2 and w.getnchannels() == 1
        samples = np.frombuffer(w.readframes(w.getnframes()), dtype="<i2")
        seconds = w.getnframes() / w.getframerate()
    return seconds, float(np.sqrt(np.mean(samples.astype(np.float64) ** 2)) / 32768)


def test_call_wav_has_a_plausible_length_and_loudness(tmp_path: Path) -> None:
    speaker = EspeakSpeaker(wav_dir=tmp_path)
    text = "请CT015号李四到CT一室检查"
    seconds, rms = wav_samples(speaker.make_wav(text, tmp_path / "call.wav", rate=150))
    # 16 syllables, C and T spelt out, at 150 words a minute: about 5 s here; 2-9 s is any
    # espeak-ng build's reading, and rules out a cut-off WAV or one padded with silence.
    assert 2 < seconds < 9, seconds
    # Speech, not silence: espeak-ng's voices sit around 0.1-0.2 of full scale.
    assert rms > 0.02, rms
    # A slower rate is a longer WAV of the same loudness: the rate reaches espeak.
    slow, slow_rms = wav_samples(speaker.make_wav(text, tmp_path / "slow.wav", rate=90))
    assert slow > seconds * 1.3 and slow_rms > 0.02


def test_repeats_play_the_whole_wav_each_time(tmp_path: Path) -> None:
    # The player here appends the samples it is given (after the 44-byte header of
    # espeak-ng's PCM WAV) to one file: each repeat is played in full.
    played = tmp_path / "played.raw"
    player = ("sh", "-c", f'tail -c +45 "$0" >> {played}')
    speaker = EspeakSpeaker(player=player, wav_dir=tmp_path)
    speaker.speak("请CT015号李四到CT一室检查", repeat=2, rate=150)
    seconds, _ = wav_samples(tmp_path / "queue-display-call.wav")
    samples = np.frombuffer(played.read_bytes(), dtype="<i2")
    total = len(samples) / 22050
    assert abs(total - 2 * seconds) < 0.01, (total, seconds)
    assert float(np.sqrt(np.mean(samples.astype(np.float64) ** 2)) / 32768) > 0.02
