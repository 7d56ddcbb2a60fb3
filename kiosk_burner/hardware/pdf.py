"""A one-page PDF of a label: the rendered picture (JPEG, so the PDF prints exactly the PNG)
and under it the label's text as an invisible, searchable layer (text render mode 3, as in
scanned documents), so ``pdftotext`` and a reader's search find 王建国. Hand-written because
the kiosk needs nothing else of a PDF library (WeasyPrint is the core's, too heavy here).

The text uses a Type0 font with Identity-H encoding whose CIDs are simply the position of each
character in this document's own alphabet, mapped back to Unicode by a ToUnicode CMap; no font
program is embedded (invisible text draws no glyphs)."""

from __future__ import annotations

import io
from dataclasses import dataclass

from PIL import Image


@dataclass(frozen=True)
class TextRun:
    """One line of text at (x, y) points from the bottom left, ``size`` points high."""

    text: str
    x: float
    y: float
    size: float


def _utf16_hex(char: str) -> str:
    return char.encode("utf-16-be").hex().upper()


def _to_unicode(alphabet: list[str]) -> bytes:
    entries = "\n".join(f"<{i + 1:04X}> <{_utf16_hex(c)}>" for i, c in enumerate(alphabet))
    cmap = (
        "/CIDInit /ProcSet findresource begin\n12 dict begin\nbegincmap\n"
        "/CIDSystemInfo << /Registry (Adobe) /Ordering (UCS) /Supplement 0 >> def\n"
        "/CMapName /Adobe-Identity-UCS def\n/CMapType 2 def\n"
        "1 begincodespacerange\n<0000> <FFFF>\nendcodespacerange\n"
        f"{len(alphabet)} beginbfchar\n{entries}\nendbfchar\n"
        "endcmap\nCMapName currentdict /CMap defineresource pop\nend\nend\n"
    )
    return cmap.encode("ascii")


def label_pdf(png: bytes, runs: list[TextRun], side_pt: float) -> bytes:
    """A square page ``side_pt`` points wide showing ``png``, with ``runs`` as hidden text."""
    picture = Image.open(io.BytesIO(png)).convert("RGB")
    jpeg = io.BytesIO()
    picture.save(jpeg, "JPEG", quality=92)
    alphabet = sorted({c for run in runs for c in run.text})
    cid = {c: i + 1 for i, c in enumerate(alphabet)}
    text_ops = "".join(
        f"BT /F1 {run.size:.1f} Tf 3 Tr {run.x:.1f} {run.y:.1f} Td "
        f"<{''.join(f'{cid[c]:04X}' for c in run.text)}> Tj ET\n"
        for run in runs
        if run.text
    )
    content = f"q {side_pt:.2f} 0 0 {side_pt:.2f} 0 0 cm /Im1 Do Q\n{text_ops}".encode("ascii")
    width, height = picture.size
    widths = " ".join("1000" for _ in alphabet)
    objects: list[bytes] = [
        b"<< /Type /Catalog /Pages 2 0 R >>",
        b"<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
        (
            f"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 {side_pt:.2f} {side_pt:.2f}] "
            "/Resources << /XObject << /Im1 4 0 R >> /Font << /F1 6 0 R >> >> "
            "/Contents 5 0 R >>"
        ).encode("ascii"),
        _stream(
            f"<< /Type /XObject /Subtype /Image /Width {width} /Height {height} "
            "/ColorSpace /DeviceRGB /BitsPerComponent 8 /Filter /DCTDecode",
            jpeg.getvalue(),
        ),
        _stream("<<", content),
        b"<< /Type /Font /Subtype /Type0 /BaseFont /LabelText /Encoding /Identity-H "
        b"/DescendantFonts [7 0 R] /ToUnicode 8 0 R >>",
        (
            "<< /Type /Font /Subtype /CIDFontType2 /BaseFont /LabelText "
            "/CIDSystemInfo << /Registry (Adobe) /Ordering (Identity) /Supplement 0 >> "
            f"/FontDescriptor 9 0 R /W [1 [{widths}]] /CIDToGIDMap /Identity >>"
        ).encode("ascii"),
        _stream("<<", _to_unicode(alphabet)),
        b"<< /Type /FontDescriptor /FontName /LabelText /Flags 4 "
        b"/FontBBox [0 -200 1000 900] /ItalicAngle 0 /Ascent 880 /Descent -120 "
        b"/CapHeight 700 /StemV 80 >>",
    ]
    return _assemble(objects)


def _stream(head: str, data: bytes) -> bytes:
    return f"{head} /Length {len(data)} >>\nstream\n".encode("ascii") + data + b"\nendstream"


def _assemble(objects: list[bytes]) -> bytes:
    out = bytearray(b"%PDF-1.4\n%\xe2\xe3\xcf\xd3\n")
    offsets = []
    for number, body in enumerate(objects, start=1):
        offsets.append(len(out))
        out += f"{number} 0 obj\n".encode("ascii") + body + b"\nendobj\n"
    xref = len(out)
    out += f"xref\n0 {len(objects) + 1}\n0000000000 65535 f \n".encode("ascii")
    for offset in offsets:
        out += f"{offset:010d} 00000 n \n".encode("ascii")
    out += (
        f"trailer\n<< /Size {len(objects) + 1} /Root 1 0 R >>\nstartxref\n{xref}\n%%EOF\n"
    ).encode("ascii")
    return bytes(out)
