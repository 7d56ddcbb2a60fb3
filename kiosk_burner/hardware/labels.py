"""The disc label: one round layout drawn with Pillow (WenQuanYi for Chinese), as a PNG for the
robots' label printers and the screen preview and as a PDF for a local label printer; and the
same :class:`~kiosk_burner.contract.Label` as the robots' merge fields, so a robot's own
layout (Total Disc Maker .tdd, SureThing .std) prints the same words.

Layout (1200 x 1200 px, 120 mm across: a full-face printable disc): hospital logo and name on
top, the patient's full name large (it is the patient's own disc), the "DICOM" mark left and
the QR code of the online images and report right of the centre hole, the exam lines and
"disc n/m" below. A circle of 41 mm (410 px) in the middle stays blank: the hole and the
clamping ring a disc printer does not print on."""

from __future__ import annotations

import io
from pathlib import Path
from typing import Any

from kiosk_burner.contract import Label
from kiosk_burner.hardware.pdf import TextRun, label_pdf

SIDE = 1200  # pixels
SIDE_MM = 120.0
CLEAR_RADIUS = 205  # the hole and the clamping ring (41 mm across)
EDGE = 8  # pixels inside the disc's outer edge left unprinted
QR_BOX = (830, 470, 1080, 720)  # left, top, right, bottom: right of the hole
DICOM_BOX = (130, 555, 380, 645)


def merge_fields(label: Label) -> list[tuple[str, str]]:
    """The label's words as ordered (name, value) pairs: the robots' merge fields (TD Bridge
    REPLACE_FIELD, PTBurn MergeField) in this order; the robot's own layout names the same."""
    exams = list(label.exam_lines)
    return [
        ("HOSPITAL", label.hospital_name),
        ("PATIENT_NAME", label.patient_name),
        ("EXAM1", exams[0] if exams else ""),
        ("EXAM2", exams[1] if len(exams) > 1 else ""),
        ("EXAM3", "；".join(exams[2:])),
        ("DISC", f"{label.disc_number}/{label.discs}"),
        ("QR_URL", label.qr_url),
        ("DICOM", "DICOM"),
    ]


def _font(size: int, path: Path | None) -> Any:
    from PIL import ImageFont

    from device_kit.fonts import cjk_font

    return ImageFont.truetype(str(cjk_font(path)), size)


def _chord(y: float) -> float:
    """Half the width of the printable disc at height ``y`` (px from the top)."""
    radius = SIDE / 2 - EDGE - 20
    dy = abs(y - SIDE / 2)
    return max(0.0, (radius * radius - dy * dy) ** 0.5)


def _fitted(draw: Any, text: str, size: int, y: int, font_path: Path | None) -> Any:
    """The largest font up to ``size`` that keeps ``text`` inside the disc at ``y``."""
    room = 2 * min(_chord(y), _chord(y + size))
    while size > 14:
        font = _font(size, font_path)
        if draw.textlength(text, font=font) <= room:
            return font
        size -= 2
    return _font(size, font_path)


def _qr(url: str, box: int) -> Any:
    import qrcode
    from qrcode.constants import ERROR_CORRECT_M

    code = qrcode.QRCode(error_correction=ERROR_CORRECT_M, border=4)
    code.add_data(url)
    code.make(fit=True)
    image = code.make_image(fill_color="black", back_color="white").get_image()
    return image.convert("RGB").resize((box, box), 0)  # nearest: keep the modules square


def _centred(draw: Any, text: str, y: int, font: Any, fill: str, runs: list[TextRun]) -> None:
    width = draw.textlength(text, font=font)
    x = (SIDE - width) / 2
    draw.text((x, y), text, font=font, fill=fill)
    runs.append(_run(text, x, y, font.size))


def _run(text: str, x: float, y: float, size: int) -> TextRun:
    scale = SIDE_MM / 25.4 * 72 / SIDE  # px -> pt
    return TextRun(text, x * scale, (SIDE - y - size) * scale, size * scale)


def render_label(label: Label, font_path: Path | None = None) -> tuple[bytes, bytes]:
    """(PNG, PDF) of the disc label."""
    from PIL import Image, ImageDraw

    image = Image.new("RGB", (SIDE, SIDE), "white")
    draw = ImageDraw.Draw(image)
    centre = SIDE / 2
    outer = SIDE / 2 - EDGE
    draw.ellipse(
        (centre - outer, centre - outer, centre + outer, centre + outer), outline="#9aa5b1", width=3
    )
    draw.ellipse(
        (
            centre - CLEAR_RADIUS,
            centre - CLEAR_RADIUS,
            centre + CLEAR_RADIUS,
            centre + CLEAR_RADIUS,
        ),
        outline="#c8ced6",
        width=2,
    )
    runs: list[TextRun] = []
    y = 70
    if label.logo_png:
        logo = Image.open(io.BytesIO(label.logo_png)).convert("RGBA")
        logo.thumbnail((220, 90))
        image.paste(logo, (int(centre - logo.width / 2), y), logo)
        y += logo.height + 10
    else:
        y += 50
    hospital = _fitted(draw, label.hospital_name, 56, y, font_path)
    _centred(draw, label.hospital_name, y, hospital, "#17324d", runs)
    y += hospital.size + 45
    name = _fitted(draw, label.patient_name, 96, y, font_path)
    _centred(draw, label.patient_name, y, name, "black", runs)
    # The DICOM mark: a framed word, left of the hole.
    draw.rounded_rectangle(DICOM_BOX, radius=14, outline="#17324d", width=5)
    mark = _font(58, font_path)
    left, top, right, _ = DICOM_BOX
    text_width = draw.textlength("DICOM", font=mark)
    mark_x, mark_y = left + (right - left - text_width) / 2, top + 12
    draw.text((mark_x, mark_y), "DICOM", font=mark, fill="#17324d")
    runs.append(_run("DICOM", mark_x, mark_y, mark.size))
    if label.qr_url:
        left, top, right, _bottom = QR_BOX
        image.paste(_qr(label.qr_url, right - left), (left, top))
    y = 840
    for line in label.exam_lines[:3]:
        font = _fitted(draw, line, 40, y, font_path)
        _centred(draw, line, y, font, "black", runs)
        y += font.size + 14
    disc = f"{label.disc_number}/{label.discs}"
    _centred(draw, disc, max(y + 6, 1010), _font(44, font_path), "#17324d", runs)
    png = io.BytesIO()
    image.save(png, "PNG")
    pdf = label_pdf(png.getvalue(), runs, SIDE_MM / 25.4 * 72)
    return png.getvalue(), pdf
