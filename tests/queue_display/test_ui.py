"""The screen drawn with SDL's dummy driver: each text the layout places is checked in the
pixels (tests/device_kit/screens.py), plus the highlight and offline colours."""

from __future__ import annotations

from datetime import datetime, timedelta
from pathlib import Path

import pytest

from device_kit.i18n import Messages
from device_kit.screen import offscreen
from queue_display import ui
from queue_display.app import Bound, Connection, DisplayApp, StateFetched, Tick
from tests.device_kit.screens import assert_drawn, colour_count
from tests.queue_display.states import screen_state

NOW = datetime(2026, 11, 29, 8, 1, 2)  # a Sunday


def shown(orientation: str, online: bool = True, **state: object) -> DisplayApp:
    # The call was first shown a minute ago: it no longer blinks.
    app = DisplayApp(orientation=orientation, now=NOW - timedelta(minutes=1))
    app.handle(Connection(online))
    app.handle(Bound("1F"))
    app.handle(StateFetched(screen_state(**state)))  # type: ignore[arg-type]
    app.handle(Tick(NOW))
    return app


@pytest.mark.parametrize(
    ("orientation", "size"), [("landscape", (1920, 1080)), ("portrait", (1080, 1920))]
)
def test_everything_a_patient_needs_is_on_screen(
    orientation: str, size: tuple[int, int], tmp_path: Path
) -> None:
    canvas = offscreen(size)
    ui.draw(canvas, shown(orientation).view(), Messages("queue_display", "zh"))
    for text in [
        "某某市人民医院",
        "一楼候诊区",
        "2026年11月29日 星期日",
        "08:01:02",
        "请 CT015 号 李* 到 CT一室 检查",
        "CT检查 · 放射科",
        "CT016  张*丰  [急]",
        "CT018  张*丰",
        "CT015  李*  CT一室  请就诊",
        "过号: CT012 欧**娜",
    ]:
        assert_drawn(canvas, text)
    banner = canvas.find("请 CT015 号 李* 到 CT一室 检查")
    assert banner is not None
    # The current call sits on the highlight colour, across the screen.
    assert colour_count(canvas, ui.HIGHLIGHT, banner.rect.inflate(40, 10)) > 1000
    assert colour_count(canvas, ui.OFFLINE) == 0
    assert canvas.save_png(tmp_path, "frame.png").stat().st_size > 10_000


def test_offline_mark_over_the_last_state() -> None:
    canvas = offscreen((1920, 1080))
    ui.draw(canvas, shown("landscape", online=False).view(), Messages("queue_display", "zh"))
    badge = assert_drawn(canvas, "网络中断，显示的是最后状态")
    assert colour_count(canvas, ui.OFFLINE, badge.inflate(10, 4)) > 500
    assert_drawn(canvas, "请 CT015 号 李* 到 CT一室 检查")  # the last state stays


def test_english_and_no_current_call() -> None:
    canvas = offscreen((1280, 720))
    ui.draw(canvas, shown("landscape", call=False).view(), Messages("queue_display", "en"))
    assert_drawn(canvas, "Please listen for your number; if missed, see the desk")
    assert_drawn(canvas, "Sunday") if canvas.find("Sunday") else assert_drawn(
        canvas, "2026-11-29 Sunday"
    )
    assert colour_count(canvas, ui.HIGHLIGHT) < 2000  # no banner, only the small "Called" titles


def test_long_list_shows_its_page() -> None:
    canvas = offscreen((1920, 1080))
    ui.draw(canvas, shown("landscape", waiting=10).view(), Messages("queue_display", "zh"))
    assert_drawn(canvas, "候诊  第 1/3 页")
    assert canvas.find("CT020  张*丰") is None  # on page 2


def test_a_new_call_blinks_in_the_other_colour() -> None:
    app = DisplayApp(now=NOW)
    app.handle(Connection(True))
    app.handle(Bound("1F"))
    app.handle(StateFetched(screen_state()))
    app.handle(Tick(NOW))
    canvas = offscreen((1920, 1080))
    ui.draw(canvas, app.view(), Messages("queue_display", "zh"))
    banner = assert_drawn(canvas, "请 CT015 号 李* 到 CT一室 检查")
    assert colour_count(canvas, ui.FLASH, banner.inflate(40, 10)) > 1000
    assert colour_count(canvas, ui.HIGHLIGHT, banner.inflate(40, 10)) == 0
