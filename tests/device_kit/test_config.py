from __future__ import annotations

from pathlib import Path

import pytest

from device_kit import config
from queue_display.settings import Settings


def test_file_then_environment_then_command_line(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    toml = tmp_path / "display.toml"
    toml.write_text('orientation = "portrait"\nrows = 6\nlanguage = "en"\n', encoding="utf-8")
    monkeypatch.setenv("QUEUE_DISPLAY_CONFIG", str(toml))
    monkeypatch.setenv("QUEUE_DISPLAY_ROWS", "9")
    settings = config.load(Settings, state_dir=tmp_path)
    assert (settings.orientation, settings.rows, settings.language) == ("portrait", 9, "en")
    assert settings.state_dir == tmp_path
    assert settings.enrolment_file == tmp_path / "enrolment.json"


def test_invalid_options_are_one_readable_error(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("QUEUE_DISPLAY_ORIENTATION", "sideways")
    with pytest.raises(config.ConfigError, match="orientation"):
        config.load(Settings)
    monkeypatch.delenv("QUEUE_DISPLAY_ORIENTATION")
    with pytest.raises(config.ConfigError, match="does not exist"):
        config.load(Settings, config=tmp_path / "missing.toml")


def test_every_option_is_described() -> None:
    text = config.describe(Settings)
    for name, info in Settings.model_fields.items():
        assert info.description, name
        assert f"QUEUE_DISPLAY_{name.upper()}" in text
