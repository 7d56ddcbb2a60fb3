"""The Chinese font every screen and raster ticket uses, found by path."""

from __future__ import annotations

from pathlib import Path

# Debian's fonts-wqy-microhei (installed by `make install`); Noto CJK as a second choice.
CJK_FONT_PATHS = (
    Path("/usr/share/fonts/truetype/wqy/wqy-microhei.ttc"),
    Path("/usr/share/fonts/opentype/noto/NotoSansCJK-Regular.ttc"),
)


class FontMissing(RuntimeError):
    pass


def cjk_font(configured: Path | None = None) -> Path:
    """The configured font, else the first installed known CJK font; a clear error if none."""
    candidates = (configured,) if configured else CJK_FONT_PATHS
    for path in candidates:
        if path is not None and path.is_file():
            return path
    raise FontMissing(
        "no Chinese font found at "
        + ", ".join(str(p) for p in candidates if p is not None)
        + ": install the Debian package fonts-wqy-microhei (apt-get install fonts-wqy-microhei)"
        " or set font_path in the config"
    )
