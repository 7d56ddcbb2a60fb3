"""The message catalogues, the driver availability checks, the CJK font (names come masked
from the core: tests/core_server/queueing/test_names_shown.py)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from device_kit import fonts
from device_kit.drivers import Needs
from device_kit.i18n import MESSAGES_DIR, Messages


def test_every_catalogue_has_chinese_and_english() -> None:
    for path in MESSAGES_DIR.glob("*.json"):
        for key, texts in json.loads(path.read_text(encoding="utf-8")).items():
            assert texts["zh"] and texts["en"], f"{path.name}: {key}"
    text = Messages("queue_display", "zh")
    assert text("offline").startswith("网络中断")  # common area behind the program's
    assert Messages("queue_display", "en")("count_waiting", n=3) == "Waiting 3"
    assert text.both("waiting") == "候诊 / Waiting"


def test_missing_requirements_are_named(tmp_path: Path) -> None:
    result = (
        Needs("printer")
        .module("escpos", "python-escpos")
        .module("no_such_module_here")
        .program("no-such-program-here", "no-such-package")
        .device(tmp_path / "lp0")
        .result()
    )
    assert not result.ok
    assert result.missing == (
        "Python package no_such_module_here",
        "program no-such-program-here (Debian package no-such-package)",
        f"device {tmp_path / 'lp0'} (not present)",
    )
    assert "printer driver needs Python package python-escpos and" in result.message()
    assert Needs("ok").module("json").result().ok


def test_cjk_font_found_or_clear_error(tmp_path: Path) -> None:
    assert fonts.cjk_font().is_file()
    with pytest.raises(fonts.FontMissing, match="fonts-wqy-microhei"):
        fonts.cjk_font(tmp_path / "none.ttc")
