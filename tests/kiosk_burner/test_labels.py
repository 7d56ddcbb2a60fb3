"""The disc label: the QR decodes (zbarimg) to the cloud-film URL, the PDF's text (pdftotext)
holds the full Chinese name, the centre hole stays clear, and the merge fields carry the same
words."""

from __future__ import annotations

import io
import subprocess
from pathlib import Path

from PIL import Image

from kiosk_burner.contract import Label
from kiosk_burner.hardware.labels import CLEAR_RADIUS, SIDE, merge_fields, render_label
from tests.kiosk_burner.writer_fixtures import LABEL


def test_qr_decodes_to_the_url(tmp_path: Path) -> None:
    png, _ = render_label(LABEL)
    (tmp_path / "label.png").write_bytes(png)
    out = subprocess.run(
        ["zbarimg", "-q", "--raw", str(tmp_path / "label.png")],
        capture_output=True,
        text=True,
        check=True,
    )
    assert out.stdout.strip() == LABEL.qr_url


def test_pdf_text_has_the_chinese_name_and_exams(tmp_path: Path) -> None:
    _, pdf = render_label(LABEL)
    assert pdf.startswith(b"%PDF-1.4")
    (tmp_path / "label.pdf").write_bytes(pdf)
    text = subprocess.run(
        ["pdftotext", str(tmp_path / "label.pdf"), "-"], capture_output=True, text=True, check=True
    ).stdout
    for words in ("王建国", "北京协和医院放射科", "2026-12-07 胸部CT平扫", "DICOM", "1/2"):
        assert words in text


def test_round_layout_leaves_the_hole_clear() -> None:
    png, _ = render_label(LABEL)
    image = Image.open(io.BytesIO(png)).convert("L")
    assert image.size == (SIDE, SIDE)
    centre = SIDE // 2
    inside = [
        int(image.getpixel((x, y)))  # type: ignore[arg-type]
        for x in range(centre - CLEAR_RADIUS + 10, centre + CLEAR_RADIUS - 10, 7)
        for y in range(centre - CLEAR_RADIUS + 10, centre + CLEAR_RADIUS - 10, 7)
        if (x - centre) ** 2 + (y - centre) ** 2 < (CLEAR_RADIUS - 10) ** 2
    ]
    assert inside and min(inside) == 255  # nothing printed on the hole or clamping ring
    assert int(image.getextrema()[0]) < 50  # type: ignore[arg-type]  # but text and QR elsewhere


def test_long_names_shrink_to_fit_and_logo_is_drawn() -> None:
    logo = io.BytesIO()
    Image.new("RGB", (300, 100), "red").save(logo, "PNG")
    label = Label(
        "某某市第一人民医院医学影像科（东院区）",
        "欧阳娜娜娜娜娜娜娜",
        ("x",),
        2,
        2,
        "https://x.cn/f",
        logo_png=logo.getvalue(),
    )
    png, pdf = render_label(label)
    image = Image.open(io.BytesIO(png)).convert("RGB")
    assert (255, 0, 0) in {image.getpixel((x, 90)) for x in range(500, 700)}
    assert b"/ToUnicode" in pdf


def test_merge_fields_carry_the_label() -> None:
    fields = dict(merge_fields(LABEL))
    assert fields["PATIENT_NAME"] == "王建国"
    assert fields["EXAM1"] == "2026-12-07 胸部CT平扫"
    assert fields["EXAM2"] == "2026-12-01 头颅MR增强"
    assert fields["DISC"] == "1/2"
    assert fields["QR_URL"] == LABEL.qr_url
