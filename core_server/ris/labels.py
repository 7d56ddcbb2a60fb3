"""Exam barcode labels: Code128 of the accession number, as SVG or PNG for the label printer
at the registration desk (python-barcode)."""

from __future__ import annotations

import io

import barcode
from barcode.writer import ImageWriter, SVGWriter

from core_server.ris.models import RisError


def code128(value: str, fmt: str = "svg") -> tuple[bytes, str]:
    """The barcode image and its media type; ``fmt`` is ``svg`` or ``png``."""
    if not value or not value.isascii():
        raise RisError("ris.label.not_ascii", value=value)
    if fmt == "svg":
        writer, media_type = SVGWriter(), "image/svg+xml"
    elif fmt == "png":
        writer, media_type = ImageWriter(), "image/png"
    else:
        raise RisError("ris.label.unknown_format", format=fmt)
    buffer = io.BytesIO()
    # 0.3 mm modules, 12 mm bars: scans from a 50 x 30 mm label.
    options: dict[str, object] = {
        "module_width": 0.3,
        "module_height": 12.0,
        "quiet_zone": 3.0,
        "font_size": 8,
    }
    if fmt == "png":
        options |= {"format": "PNG", "dpi": 300}
    barcode.get("code128", value, writer=writer).write(buffer, options=options)
    return buffer.getvalue(), media_type
