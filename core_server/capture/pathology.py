"""The pathology request form (病理申请单) of an endoscopy exam: biopsy sites with their
specimen counts, clinical information and who requested it, recorded on the exam (one form an
exam; saving again replaces it, each save in the audit trail) and printed A5 or A4 with a
Code 128 barcode of its request number, which the pathology lab scans on receipt."""

from __future__ import annotations

import base64
import html
import io
import json
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import barcode
from barcode.writer import ImageWriter
from sqlalchemy import Engine, insert, select, update

from core_server import auth, clock, db, names
from core_server.capture.tables import capture_pathology
from core_server.refusals import Invalid, NotFound
from core_server.ris import Ris

SIZES = ("A5", "A4")
MAX_SITES = 20


@dataclass(frozen=True)
class BiopsySite:
    site: str
    specimens: int


@dataclass(frozen=True)
class PathologyRequest:
    exam_id: int
    request_number: str
    sites: tuple[BiopsySite, ...]
    clinical_info: str
    requested_by: str
    recorded_by: str
    recorded_at: datetime

    @property
    def specimens(self) -> int:
        return sum(s.specimens for s in self.sites)

    def as_dict(self) -> dict[str, Any]:
        return {
            "exam_id": self.exam_id,
            "request_number": self.request_number,
            "sites": [{"site": s.site, "specimens": s.specimens} for s in self.sites],
            "specimens": self.specimens,
            "clinical_info": self.clinical_info,
            "requested_by": self.requested_by,
            "recorded_by": self.recorded_by,
            "recorded_at": clock.iso(self.recorded_at),
        }


def request_number(exam_id: int) -> str:
    """ASCII (Code 128 reads it), one per exam, so a reprint carries the same number."""
    return f"BL{exam_id:08d}"


def _checked(sites: list[BiopsySite]) -> tuple[BiopsySite, ...]:
    cleaned = tuple(BiopsySite(s.site.strip(), s.specimens) for s in sites)
    if not cleaned or len(cleaned) > MAX_SITES:
        raise Invalid("capture.pathology.sites_required", most=MAX_SITES)
    for s in cleaned:
        if not s.site or not 1 <= s.specimens <= 99:
            raise Invalid("capture.pathology.bad_site", site=s.site, specimens=s.specimens)
    return cleaned


class Pathology:
    def __init__(self, engine: Engine, ris: Ris, *, hospital: str) -> None:
        self.engine = engine
        self.ris = ris
        self.hospital = hospital

    def record(
        self,
        exam_id: int,
        sites: list[BiopsySite],
        *,
        clinical_info: str,
        requested_by: str,
        by: str,
        address: str = "",
    ) -> PathologyRequest:
        self.ris.exam(exam_id)  # 404 for an unknown exam
        checked = _checked(sites)
        p = capture_pathology
        values = {
            "sites": json.dumps([s.__dict__ for s in checked], ensure_ascii=False),
            "specimens": sum(s.specimens for s in checked),
            "clinical_info": clinical_info.strip(),
            "requested_by": requested_by.strip() or by,
            "recorded_by": by,
            "recorded_at": clock.now(),
        }
        with db.write(self.engine) as conn:
            if conn.execute(select(p.c.id).where(p.c.exam_id == exam_id)).first():
                conn.execute(update(p).where(p.c.exam_id == exam_id).values(**values))
            else:
                number = request_number(exam_id)
                conn.execute(insert(p).values(exam_id=exam_id, request_number=number, **values))
            auth.record_audit(
                conn,
                username=by,
                action="capture.pathology.recorded",
                target=f"exam:{exam_id}",
                detail={k: v for k, v in values.items() if k != "recorded_at"},
                address=address,
            )
        return self.get(exam_id)

    def get(self, exam_id: int) -> PathologyRequest:
        p = capture_pathology
        with db.read(self.engine) as conn:
            row = conn.execute(select(p).where(p.c.exam_id == exam_id)).first()
        if row is None:
            raise NotFound("capture.pathology.not_found", exam_id=exam_id)
        return PathologyRequest(
            row.exam_id,
            row.request_number,
            tuple(BiopsySite(s["site"], int(s["specimens"])) for s in json.loads(row.sites)),
            row.clinical_info,
            row.requested_by,
            row.recorded_by,
            clock.utc(row.recorded_at),
        )

    def pdf(self, exam_id: int, size: str = "A5") -> bytes:
        if size not in SIZES:
            raise Invalid("capture.pathology.bad_size", size=size)
        form = self.get(exam_id)
        from weasyprint import HTML  # loads pango: only when a form is printed

        return bytes(HTML(string=self.html(form, size)).write_pdf())

    def html(self, form: PathologyRequest, size: str) -> str:
        exam = self.ris.exam(form.exam_id)
        patient = self.ris.patient(exam.patient_id, exam.issuer)
        e = html.escape
        sex = {"M": "男", "F": "女"}.get(patient.sex, patient.sex or "")
        rows = "".join(
            f"<tr><td>{i}</td><td>{e(s.site)}</td><td>{s.specimens}</td></tr>"
            for i, s in enumerate(form.sites, 1)
        )
        fields = [
            ("姓名", patient.display_name),
            ("性别", sex),
            ("出生日期", patient.birth_date.isoformat() if patient.birth_date else ""),
            ("患者ID", exam.patient_id),
            ("检查号", exam.accession_number),
            ("检查项目", exam.procedure_name),
            ("检查日期", clock.shown(exam.status_at, "%Y-%m-%d")),
            ("申请医生", names.display(form.requested_by)),
        ]
        facts = "".join(f"<div><b>{e(k)}</b> {e(v)}</div>" for k, v in fields)
        return _PAGE.format(
            size=size,
            hospital=e(self.hospital),
            barcode=_barcode_png(form.request_number),
            number=e(form.request_number),
            facts=facts,
            rows=rows,
            total=form.specimens,
            clinical=e(form.clinical_info).replace("\n", "<br>"),
            printed=e(clock.shown(clock.now())),
        )


def _barcode_png(value: str) -> str:
    """A PNG data URI (weasyprint ignores python-barcode's SVG styles: its white background
    would print black)."""
    buffer = io.BytesIO()
    options: dict[str, object] = {
        "module_width": 0.3,
        "module_height": 10.0,
        "quiet_zone": 3.0,
        "font_size": 8,
        "format": "PNG",
        "dpi": 300,
    }
    barcode.get("code128", value, writer=ImageWriter()).write(buffer, options=options)
    return "data:image/png;base64," + base64.b64encode(buffer.getvalue()).decode()


_PAGE = """<!doctype html><html lang="zh"><head><meta charset="utf-8"><style>
@page {{ size: {size}; margin: 12mm; }}
body {{ font-family: "WenQuanYi Micro Hei", sans-serif; font-size: 10pt; }}
h1 {{ font-size: 15pt; text-align: center; margin: 0; }}
h2 {{ font-size: 13pt; text-align: center; margin: 2mm 0 4mm; }}
.code {{ text-align: right; }} .code img {{ height: 16mm; }}
.facts {{ display: flex; flex-wrap: wrap; gap: 2mm 6mm; margin-bottom: 4mm; }}
.facts div {{ width: 45%; }}
table {{ width: 100%; border-collapse: collapse; margin-bottom: 4mm; }}
td, th {{ border: 0.3mm solid #333; padding: 1.5mm; text-align: left; }}
.foot {{ font-size: 8pt; color: #555; margin-top: 6mm; }}
</style></head><body>
<h1>{hospital}</h1><h2>病理检查申请单</h2>
<div class="code"><img src="{barcode}" alt=""><div>申请单号 {number}</div></div>
<div class="facts">{facts}</div>
<table><thead><tr><th>序号</th><th>取材部位</th><th>标本数</th></tr></thead>
<tbody>{rows}</tbody><tfoot><tr><td></td><td>合计</td><td>{total}</td></tr></tfoot></table>
<p><b>临床资料</b><br>{clinical}</p>
<div class="foot">打印时间 {printed}</div>
</body></html>"""
