"""The printed report: a signed version laid out by a department's or modality's HTML layout
(Jinja2) and made a PDF by weasyprint, with the Chinese font embedded.

Layouts are looked up, first match wins, in the site's folder ``<data dir>/report_layouts``
and then the shipped ``layouts/``: ``<department>.html``, ``<modality>.html`` (lower case),
``default.html``. A site's ``logo.png`` in its folder is printed beside the hospital's name.

The shipped layouts are Chinese and print nothing else: names as a person reads them
(王建国), the body part by its Chinese name (胸部, not ``CHEST``), times in the hospital's
zone whatever the machine's.
"""

from __future__ import annotations

import base64
import logging
from dataclasses import dataclass
from datetime import date
from io import BytesIO
from pathlib import Path

import jinja2
import qrcode
import qrcode.image.svg
from markupsafe import Markup

from core_server import clock
from core_server.reporting import body_parts
from core_server.reporting.output.source import SignedReport

log = logging.getLogger(__name__)
SHIPPED_LAYOUTS = Path(__file__).parent / "layouts"
SEXES = {"M": "男", "F": "女", "O": "其他"}


@dataclass(frozen=True)
class KeyImagePicture:
    png: bytes
    note: str = ""


@dataclass(frozen=True)
class PrintContext:
    """What a print needs besides the report: names and where the QR code points."""

    hospital: str
    url: str  # the online report (and its images) for the QR code
    author_name: str
    signer_name: str
    copy_note: str = ""  # bottom-left of each page: e.g. 补打 (reprint), 电子版 (electronic copy)
    department_name: str = ""  # the department's name for its code (放射科 for RAD)


def _css(value: object) -> Markup:
    """A value inside a CSS string in the layout's <style>."""
    text = str(value).replace("\\", "\\\\").replace('"', '\\"').replace("<", "\\3c ")
    return Markup(text.replace("\n", " "))


def layout_environment(site_dir: Path | None) -> jinja2.Environment:
    folders = [str(site_dir)] if site_dir is not None and site_dir.is_dir() else []
    env = jinja2.Environment(
        loader=jinja2.FileSystemLoader([*folders, str(SHIPPED_LAYOUTS)]),
        autoescape=True,
    )
    env.filters["css"] = _css
    return env


def choose_layout(env: jinja2.Environment, department: str, modality: str) -> str:
    names = [f"{n}.html" for n in (department, modality.lower()) if n and "/" not in n]
    for name in [*names, "default.html"]:
        try:
            env.get_template(name)
        except jinja2.TemplateNotFound:
            continue
        return name
    raise jinja2.TemplateNotFound("default.html")


def age(birth: date | None, on: date) -> str:
    """The age as Chinese reports print it: years, or months/days for infants."""
    if birth is None:
        return ""
    years = on.year - birth.year - ((on.month, on.day) < (birth.month, birth.day))
    if years >= 1:
        return f"{years}岁"
    months = (on.year - birth.year) * 12 + on.month - birth.month - (on.day < birth.day)
    return f"{months}月" if months >= 1 else f"{(on - birth).days}天"


def qr_svg(url: str) -> str:
    image = qrcode.make(url, image_factory=qrcode.image.svg.SvgPathImage, box_size=10, border=1)
    out = BytesIO()
    image.save(out)
    return "data:image/svg+xml;base64," + base64.b64encode(out.getvalue()).decode()


def render_html(
    signed: SignedReport,
    context: PrintContext,
    pictures: list[KeyImagePicture],
    site_dir: Path | None = None,
) -> str:
    env = layout_environment(site_dir)
    report, exam = signed.report, signed.exam
    name = choose_layout(env, report.department, report.modality)
    logo_path = site_dir / "logo.png" if site_dir is not None else None
    logo = ""
    if logo_path is not None and logo_path.is_file():
        logo = "data:image/png;base64," + base64.b64encode(logo_path.read_bytes()).decode()
    exam_at = (exam.scheduled_at or exam.created_at) if exam is not None else report.created_at
    page = {
        "hospital": context.hospital,
        "logo": logo,
        "qr": qr_svg(context.url),
        "url": context.url,
        "copy_note": context.copy_note,
        "patient_name": signed.patient_display_name,
        "sex": SEXES.get(signed.sex, signed.sex),
        "age": age(signed.birth_date, clock.local(exam_at).date()),
        "patient_id": report.patient_id,
        "accession": report.accession_number,
        "exam_date": clock.shown(exam_at, "%Y-%m-%d"),
        "department": context.department_name or report.department,
        "requesting_department": signed.requesting_department,
        "clinical_diagnosis": signed.clinical_diagnosis,
        "modality": report.modality,
        "procedure": exam.procedure_name if exam is not None else report.procedure_code,
        "body_part": body_parts.name(report.body_part, "zh"),
        "images": [
            {
                "src": "data:image/png;base64," + base64.b64encode(p.png).decode(),
                "note": p.note,
            }
            for p in pictures
        ],
        "fields": signed.field_rows,
        # Report text is HTML sanitised by the domain (nh3) when it was saved.
        "findings": Markup(signed.version.findings),
        "impression": Markup(signed.version.impression),
        "author": context.author_name,
        "signer": context.signer_name,
        "signed_at": clock.shown(signed.version.created_at),
        "amended": signed.amendment > 0,
        "amendments": signed.amendment,
    }
    return env.get_template(name).render(page)


def render_pdf(html: str) -> bytes:
    """The PDF of a laid-out report (fonts are subset and embedded by weasyprint)."""
    from weasyprint import HTML

    pdf = HTML(string=html, base_url=str(SHIPPED_LAYOUTS)).write_pdf()
    assert pdf is not None
    return bytes(pdf)
