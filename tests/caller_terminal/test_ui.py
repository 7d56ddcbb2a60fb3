"""The caller's screen with SDL's dummy driver: texts checked in the pixels, taps hit buttons."""

from __future__ import annotations

import pytest

from caller_terminal import ui
from caller_terminal.app import Bound, CallerApp, Connection, Notice, Press, StateFetched
from device_kit.i18n import Messages
from device_kit.screen import offscreen
from tests.caller_terminal.rooms import room_state
from tests.device_kit.screens import assert_drawn, colour_count


def shown(online: bool = True) -> CallerApp:
    app = CallerApp()
    app.handle(Connection(online))
    app.handle(Bound("CT1"))
    app.handle(StateFetched(room_state()))
    return app


@pytest.mark.parametrize("size", [(800, 480), (480, 800)])
def test_current_patient_count_and_buttons(size: tuple[int, int]) -> None:
    canvas = offscreen(size)
    targets = ui.draw(canvas, shown(), Messages("caller_terminal", "zh"))
    for text in [
        "CT一室 · 空闲",
        "候诊 3 人",
        "CT015  李四",
        "男 · 45岁  胸部CT平扫",  # was "M  45Y": issue 18 item 25
        "已呼叫（第 1 次）",
    ]:
        assert_drawn(canvas, text)
    for label in ["呼叫下一位", "重呼", "过号", "开始检查", "完成检查", "选择患者"]:
        rect = assert_drawn(canvas, label)
        target = ui.hit(targets, rect.center)
        assert target is not None  # the label sits on its own button
        assert Messages("caller_terminal", "zh")(target.command) == label


def test_refusal_offline_and_choosing() -> None:
    app = shown(online=False)
    app.notice = Notice("refused", core_text="该患者已被其他诊室呼叫", error=True)
    canvas = offscreen((800, 480))
    ui.draw(canvas, app, Messages("caller_terminal", "zh"), pending=2)
    rect = assert_drawn(canvas, "该患者已被其他诊室呼叫")
    assert colour_count(canvas, ui.ERROR, rect) > 50
    assert_drawn(canvas, "网络中断，显示的是最后状态  2 个操作待发送  候诊 3 人")

    app.handle(Press("choose"))
    app.handle(Press("down"))
    targets = ui.draw(canvas, app, Messages("caller_terminal", "zh"))
    row = assert_drawn(canvas, "CT017  王小明  胸部CT平扫")
    assert colour_count(canvas, ui.SELECTED, row.inflate(20, 6)) > 500  # the selection
    target = ui.hit(targets, row.center)
    assert target is not None and (target.command, target.ticket_id) == ("call", 43)
    app.handle(Press("down"))
    app.handle(Press("down"))  # the list scrolls to the missed patient at its end
    ui.draw(canvas, app, Messages("caller_terminal", "zh"))
    row = assert_drawn(canvas, "CT012  欧阳娜娜  胸部CT平扫  [过号]")
    assert colour_count(canvas, ui.SELECTED, row.inflate(20, 6)) > 500


def test_sex_and_age_in_the_terminals_language() -> None:
    zh, en = Messages("caller_terminal", "zh"), Messages("caller_terminal", "en")
    assert ui.patient_line({"sex": "F", "age": "36Y"}, zh) == "女 · 36岁"
    assert ui.patient_line({"sex": "F", "age": "36Y"}, en) == "F · 36 y"
    assert ui.patient_line({"sex": "M", "age": "8M"}, zh) == "男 · 8个月"
    assert ui.patient_line({"sex": "", "age": "20D"}, zh) == "20天"
    assert ui.patient_line({"sex": "U", "age": ""}, zh) == ""
