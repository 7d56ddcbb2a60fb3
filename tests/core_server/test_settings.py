"""Settings come from defaults, a TOML file, CORE_* variables and the command line, in that
rising order."""

from __future__ import annotations

from pathlib import Path

import pytest
from pydantic import ValidationError

from core_server.cli import _settings, build_parser
from core_server.settings import Settings


def test_defaults() -> None:
    settings = Settings()
    assert (settings.http_port, settings.dicom_port, settings.hl7_port) == (8080, 11112, 2575)
    assert settings.ae_title == "PACS"
    assert settings.effective_database_url.endswith("/var/core.db")
    assert settings.effective_database_url.startswith("sqlite:///")


def test_file_then_environment_then_command_line(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    config = tmp_path / "core.toml"
    config.write_text('ae_title = "FILEAE"\nhttp_port = 9000\ndicom_port = 10400\n')
    monkeypatch.setenv("CORE_CONFIG", str(config))
    assert Settings().ae_title == "FILEAE"

    monkeypatch.setenv("CORE_HTTP_PORT", "9100")
    settings = Settings()
    assert (settings.ae_title, settings.http_port, settings.dicom_port) == ("FILEAE", 9100, 10400)

    args = build_parser().parse_args(["serve", "--dicom-port=104", "--strict-ae"])
    settings = _settings(args)
    assert (settings.http_port, settings.dicom_port, settings.strict_ae) == (9100, 104, True)


def test_a_wrong_value_is_a_clear_error(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CORE_DICOM_PORT", "eleven")
    with pytest.raises(ValidationError, match="dicom_port"):
        Settings()
    monkeypatch.delenv("CORE_DICOM_PORT")
    with pytest.raises(ValidationError, match="ae_title"):
        Settings(ae_title="A_TITLE_LONGER_THAN_16")


def test_the_command_line_reports_a_wrong_value(capsys: pytest.CaptureFixture[str]) -> None:
    from core_server.cli import main

    assert main(["users", "list", "--http-port=many"]) == 2
    assert "invalid setting" in capsys.readouterr().err
