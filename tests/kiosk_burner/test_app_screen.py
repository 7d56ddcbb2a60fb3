"""The kiosk's portrait screen with SDL's dummy driver: each screen's texts in the pixels,
Chinese with its English line, taps on the drawn targets; screenshots in test-artifacts/."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path

from device_kit.i18n import Messages
from device_kit.screen import offscreen
from kiosk_burner import app as k
from kiosk_burner import ui
from tests.device_kit.screens import assert_drawn
from tests.kiosk_burner.test_app import EXAMS

ARTIFACTS = Path("test-artifacts/kiosk_burner")
ZH, EN = Messages("kiosk_burner", "zh"), Messages("kiosk_burner", "en")


def tap(app: k.KioskApp, targets: list[ui.Target], name: str) -> list[k.Action]:
    target = next(t for t in targets if t.target == name)
    hit = ui.hit(targets, target.rect.center)
    assert hit is not None
    return app.handle(k.Touched(hit.target))


def test_a_patient_through_every_screen() -> None:
    canvas = offscreen((1080, 1920))
    app = k.KioskApp(now=datetime(2026, 12, 7, 9, 30))
    app.handle(k.Connection(True))

    def shot(name: str) -> list[ui.Target]:
        targets = ui.draw(canvas, app, ZH, EN, "某某市人民医院")
        canvas.save_png(ARTIFACTS, f"{name}.png")
        return targets

    targets = shot("welcome")
    for line in (
        "某某市人民医院",
        "09:30",
        "请扫描检查单或报告上的条码/二维码",
        "Scan the barcode or QR code on your exam slip or report",
    ):
        assert_drawn(canvas, line)
    tap(app, targets, "start")
    targets = shot("identify")
    assert_drawn(canvas, "请输入身份证号码")
    for digit in "11010119800115123":
        tap(app, targets, f"key:{digit}")
    targets = shot("identify-typed")
    assert_drawn(canvas, "11010119800115123")
    tap(app, targets, "key:X")
    tap(app, targets, "next")
    targets = shot("birth-date")
    assert "key:X" not in {t.target for t in targets}
    for digit in "19800115":
        tap(app, targets, f"key:{digit}")
    [identify, _] = tap(app, targets, "next")
    shot("looking-up")
    assert_drawn(canvas, "正在查询您的检查，请稍候…")
    app.handle(k.Identified(identify.key, {"name": "王建国"}, EXAMS))  # type: ignore[union-attr]
    targets = shot("exams")
    assert_drawn(canvas, "王建国，请选择要刻录的检查")
    assert_drawn(canvas, "2026-12-01  胸部CT平扫  320 幅图像")
    assert_drawn(canvas, "含报告")
    assert_drawn(canvas, "2026-12-05  头颅MR  180 幅图像: 报告尚未签发")
    assert "exam:2" not in {t.target for t in targets}
    tap(app, targets, "exam:3")
    tap(app, targets, "continue")
    targets = shot("copies")
    tap(app, targets, "copies:2")
    [queue, _] = tap(app, targets, "burn")
    app.handle(k.JobQueued(queue.key, {"id": 5, "state": "queued"}))  # type: ignore[union-attr]
    app.handle(k.JobStep(5, "burning", 1, 2, reason="burn_failed"))
    shot("burning")
    assert_drawn(canvas, "正在刻录第 1/2 张光盘…")
    assert_drawn(canvas, "Burning disc 1 of 2…")
    assert_drawn(canvas, "光盘刻录失败，正在换一张新盘重新刻录")
    app.handle(k.JobStep(5, "burning", 2, 2, reason="out_of_ink"))
    shot("ask-desk")
    assert_drawn(canvas, "刻录机需要工作人员处理，请咨询服务台")
    app.handle(k.JobStep(5, "done", 2, 2))
    shot("done")
    assert_drawn(canvas, "刻录完成，请取走您的光盘")
    assert_drawn(canvas, "Done: please take your disc")


def test_offline_and_writer_problems_in_english() -> None:
    canvas = offscreen((1080, 1920))
    app = k.KioskApp()
    app.handle(k.WriterStatus(False, ("out_of_ink",)))
    targets = ui.draw(canvas, app, EN)
    canvas.save_png(ARTIFACTS, "offline-en.png")
    assert_drawn(canvas, "The server cannot be reached: burning is paused, please ask the desk")
    assert_drawn(canvas, "Offline: burning paused  Out of ink")
    assert "start" not in {t.target for t in targets}  # no new job
