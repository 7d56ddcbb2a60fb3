"""Basic Annotation Box texts drawn on an archived film sheet.

The image boxes fill the whole film (``sheet.compose()``), so the annotations get a band of
their own below it: the composed film is kept pixel for pixel above the band, and the band
holds the texts at their Annotation Positions, 1 to ``POSITIONS`` from left to right (the
Print SCP offers four annotation boxes per film box). The band has the film's border density
and the text the opposite one; the font is WenQuanYi Micro Hei (``fonts-wqy-microhei``), which
has the Chinese a modality sends (patient names, 医院). A text too long for its place is cut
with an ellipsis.
"""

from __future__ import annotations

import logging
from functools import lru_cache
from pathlib import Path

from PIL import Image, ImageDraw, ImageFont

log = logging.getLogger(__name__)

POSITIONS = 4
FONT_PATHS = (
    Path("/usr/share/fonts/truetype/wqy/wqy-microhei.ttc"),
    Path("/usr/share/fonts/wqy-microhei/wqy-microhei.ttc"),
)
BAND_INCHES = 0.35  # about 1 cm: a 9-10 pt line at any dpi
MIN_BAND = 16  # pixels: readable on a low-resolution test sheet too

Font = ImageFont.FreeTypeFont | ImageFont.ImageFont


def band_height(dpi: int) -> int:
    return max(MIN_BAND, round(dpi * BAND_INCHES))


@lru_cache(maxsize=16)
def _font(size: int) -> Font:
    for path in FONT_PATHS:
        if path.is_file():
            return ImageFont.truetype(str(path), size)
    log.warning("no CJK font (fonts-wqy-microhei): annotations drawn without Chinese glyphs")
    return ImageFont.load_default(size)


def _fitted(draw: ImageDraw.ImageDraw, text: str, font: Font, width: int) -> str:
    if draw.textlength(text, font=font) <= width:
        return text
    while text and draw.textlength(text + "…", font=font) > width:
        text = text[:-1]
    return text + "…" if text else ""


def annotate(picture: Image.Image, annotations: dict[int, str], dpi: int) -> Image.Image:
    """``picture`` (a composed film) with a band below holding the annotation texts; the
    picture itself unchanged when there is no text."""
    texts = {p: t.strip() for p, t in annotations.items() if 1 <= p <= POSITIONS and t.strip()}
    if not texts:
        return picture
    band = band_height(dpi)
    corner = picture.getpixel((0, picture.height - 1))  # always border: the film's density
    level = int(corner[0] if isinstance(corner, tuple) else corner or 0)
    colour = picture.mode == "RGB"
    out = Image.new(
        picture.mode, (picture.width, picture.height + band), (level,) * 3 if colour else level
    )
    out.paste(picture, (0, 0))
    ink = 255 if level < 128 else 0
    fill = (ink,) * 3 if colour else ink
    draw = ImageDraw.Draw(out)
    font = _font(max(8, round(band * 0.6)))
    column = picture.width // POSITIONS
    margin = max(2, band // 4)
    for position, text in sorted(texts.items()):
        left = (position - 1) * column + margin
        shown = _fitted(draw, text, font, column - 2 * margin)
        draw.text((left, picture.height + band // 2), shown, fill=fill, font=font, anchor="lm")
    return out
