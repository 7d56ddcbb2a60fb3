"""The day's disinfection log as the infection-control office files it: Excel (openpyxl) and a
printable PDF (weasyprint, the Chinese font embedded), the same columns in both."""

from __future__ import annotations

import html
import io
from datetime import date

from openpyxl import Workbook

from core_server import clock, names
from core_server.capture.scopes import Disinfection

COLUMNS = ("内镜编号", "清洗消毒机", "循环号", "开始", "结束", "操作者", "结果", "记录人")
RESULTS = {"passed": "合格", "failed": "不合格"}


def rows(log: list[Disinfection]) -> list[tuple[str, ...]]:
    return [
        (
            d.scope,
            d.washer,
            d.cycle,
            clock.shown(d.started_at, "%H:%M"),
            clock.shown(d.ended_at, "%H:%M"),
            names.display(d.operator),
            RESULTS.get(d.result, d.result),
            names.display(d.recorded_by),
        )
        for d in log
    ]


def xlsx(day: date, log: list[Disinfection], hospital: str) -> bytes:
    book = Workbook()
    sheet = book.active
    assert sheet is not None
    sheet.title = day.isoformat()
    sheet.append([f"{hospital} 内镜清洗消毒记录 {day.isoformat()}"])
    sheet.append(list(COLUMNS))
    for row in rows(log):
        sheet.append(list(row))
    for column, width in zip("ABCDEFGH", (14, 14, 10, 8, 8, 12, 8, 12), strict=True):
        sheet.column_dimensions[column].width = width
    buffer = io.BytesIO()
    book.save(buffer)
    return buffer.getvalue()


def pdf(day: date, log: list[Disinfection], hospital: str) -> bytes:
    from weasyprint import HTML

    e = html.escape
    head = "".join(f"<th>{e(c)}</th>" for c in COLUMNS)
    body = "".join("<tr>" + "".join(f"<td>{e(v)}</td>" for v in r) + "</tr>" for r in rows(log))
    page = f"""<!doctype html><html lang="zh"><head><meta charset="utf-8"><style>
@page {{ size: A4 landscape; margin: 12mm; }}
body {{ font-family: "WenQuanYi Micro Hei", sans-serif; font-size: 9pt; }}
h1 {{ font-size: 14pt; text-align: center; }}
table {{ width: 100%; border-collapse: collapse; }}
td, th {{ border: 0.3mm solid #333; padding: 1.2mm; }}
</style></head><body><h1>{e(hospital)} 内镜清洗消毒记录 {day.isoformat()}</h1>
<table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>
<p>共 {len(log)} 次 · 打印时间 {e(clock.shown(clock.now()))}</p></body></html>"""
    return bytes(HTML(string=page).write_pdf())
