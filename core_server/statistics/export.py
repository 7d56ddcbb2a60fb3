"""A figure as the files a department head takes away: an Excel workbook (openpyxl) and a
printable PDF (weasyprint, the Chinese font embedded). Both are drawn from the same
:class:`~core_server.statistics.figures.Figure` dict as the page, so the numbers agree."""

from __future__ import annotations

from io import BytesIO
from typing import Any

import jinja2

from core_server import clock, i18n

_PDF_PAGE = jinja2.Environment(autoescape=True).from_string(
    """<!doctype html><html lang="{{ lang }}"><head><meta charset="utf-8"><style>
@page { size: A4 {{ orientation }}; margin: 15mm 12mm;
  @bottom-right { content: counter(page) " / " counter(pages);
    font-family: "WenQuanYi Micro Hei"; font-size: 8pt; color: #666; } }
body { font-family: "WenQuanYi Micro Hei", sans-serif; font-size: 9pt; }
h1 { font-size: 14pt; margin: 0 0 2mm; }
p.meta { color: #555; margin: 0 0 4mm; }
table { border-collapse: collapse; width: 100%; }
th, td { border: 0.3pt solid #999; padding: 1mm 1.5mm; }
th { background: #eee; text-align: left; }
td.num { text-align: right; }
tr.totals td { font-weight: bold; background: #f6f6f6; }
</style></head><body>
<h1>{{ hospital }} · {{ figure.title }}</h1>
<p class="meta">{{ period }}{% for item in chosen %} · {{ item }}{% endfor %} · {{ made }}</p>
<table><thead><tr>{% for c in figure.columns %}<th>{{ c.label }}</th>{% endfor %}</tr></thead>
<tbody>{% for row in figure.rows %}<tr>{% for c in figure.columns %}
<td{% if c.kind != "text" %} class="num"{% endif %}>{{ shown(row.get(c.key), c.kind) }}</td>
{% endfor %}</tr>{% endfor %}
{% if figure.totals %}<tr class="totals">{% for c in figure.columns %}
<td{% if c.kind != "text" %} class="num"{% endif %}>
{{- shown(figure.totals.get(c.key), c.kind) }}</td>
{% endfor %}</tr>{% endif %}</tbody></table>
{% if figure.note %}<p class="meta">{{ figure.note }}</p>{% endif %}
</body></html>"""
)


def shown(value: Any, kind: str) -> str:
    """A cell as printed: empty for no value, a percentage with its sign, money with 2 decimals."""
    if value is None or value == "":
        return ""
    if kind == "percent":
        return f"{value}%"
    if kind == "money":
        return f"{float(value):,.2f}"
    return str(value)


def _meta(figure: dict[str, Any], lang: str) -> tuple[str, list[str]]:
    params = figure["filters"]
    period = f"{params['start']} – {params['end']}"
    chosen = [
        f"{i18n.translate(lang, 'statistics.dimension.' + k)}: {v}"
        for k, v in params.items()
        if k not in ("start", "end")
    ]
    return period, chosen


def excel(figure: dict[str, Any], lang: str) -> bytes:
    """One sheet: the title and the range, then the table and its totals as numbers (not text),
    so the file sums and charts in Excel/WPS as it is."""
    from openpyxl import Workbook
    from openpyxl.styles import Font

    book = Workbook()
    sheet = book.active
    assert sheet is not None
    sheet.title = figure["name"][:31]  # Excel's limit on a sheet name
    period, chosen = _meta(figure, lang)
    sheet.append([figure["title"]])
    sheet["A1"].font = Font(bold=True, size=14)
    sheet.append([" · ".join([period, *chosen])])
    sheet.append([])
    columns = figure["columns"]
    sheet.append([c["label"] for c in columns])
    for cell in sheet[4]:
        cell.font = Font(bold=True)
    for row in figure["rows"]:
        sheet.append([row.get(c["key"]) for c in columns])
    if figure.get("totals"):
        sheet.append([figure["totals"].get(c["key"]) for c in columns])
        for cell in sheet[sheet.max_row]:
            cell.font = Font(bold=True)
    for index, column in enumerate(columns, start=1):
        letter = sheet.cell(row=4, column=index).column_letter
        sheet.column_dimensions[letter].width = max(10, 2 * len(column["label"]) + 2)
    out = BytesIO()
    book.save(out)
    return out.getvalue()


def pdf(figure: dict[str, Any], lang: str, hospital: str) -> bytes:
    """A4 (landscape for a wide table), the hospital's name, the range, the table."""
    from weasyprint import HTML

    period, chosen = _meta(figure, lang)
    html = _PDF_PAGE.render(
        lang=lang,
        figure=figure,
        hospital=hospital,
        period=period,
        chosen=chosen,
        made=clock.shown(clock.now()),
        shown=shown,
        orientation="landscape" if len(figure["columns"]) > 6 else "portrait",
    )
    return bytes(HTML(string=html).write_pdf())
