"""The kiosk's hardware: the disc writers behind :class:`kiosk_burner.contract.DiscWriter`
(ISO files only, a local drive through xorriso, Epson TD Bridge, Primera PTBurn), chosen by
the ``writer`` setting, and the disc label."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from kiosk_burner.contract import DiscWriter
from kiosk_burner.hardware.epson import EpsonTdBridge
from kiosk_burner.hardware.iso_only import IsoOnlyWriter
from kiosk_burner.hardware.labels import merge_fields, render_label
from kiosk_burner.hardware.primera import PrimeraPtBurn
from kiosk_burner.hardware.xorriso import XorrisoDrive

__all__ = [
    "EpsonTdBridge",
    "IsoOnlyWriter",
    "PrimeraPtBurn",
    "XorrisoDrive",
    "make_writer",
    "merge_fields",
    "render_label",
]


def _get(settings: Any, name: str, default: Any = None) -> Any:
    if isinstance(settings, dict):
        return settings.get(name, default)
    return getattr(settings, name, default)


def make_writer(settings: Any) -> DiscWriter:
    """The writer the settings name (``writer``: iso | xorriso | epson | primera), from the
    kiosk's Settings or a plain dict. Optional options beyond the kiosk's own: ``robot_path``,
    ``robot_encoding`` (gb18030), ``label_template``, ``robot_publisher``,
    ``robot_data_folder``, ``robot_status_path``, ``font_path``."""
    kind = _get(settings, "writer", "iso")
    font = _get(settings, "font_path")
    robot: dict[str, Any] = {
        "data_folder": _path(_get(settings, "robot_data_folder")),
        "robot_path": _get(settings, "robot_path", "") or "",
        "encoding": _get(settings, "robot_encoding", "gb18030") or "gb18030",
        "label_template": _get(settings, "label_template", "") or "",
        "font": _path(font),
    }
    hot = Path(_get(settings, "hot_folder", "/srv/disc-robot"))
    status = _path(_get(settings, "robot_status_path"))
    if kind == "iso":
        return IsoOnlyWriter(
            Path(_get(settings, "iso_folder", "/var/lib/kiosk-burner/iso")), font=_path(font)
        )
    if kind == "xorriso":
        return XorrisoDrive(str(_get(settings, "drive_device", "/dev/sr0")))
    if kind == "epson":
        return EpsonTdBridge(
            hot, publisher=_get(settings, "robot_publisher", "") or "", status_file=status, **robot
        )
    if kind == "primera":
        return PrimeraPtBurn(hot, status_folder=status, **robot)
    raise ValueError(f"writer must be iso, xorriso, epson or primera, not {kind!r}")


def _path(value: Any) -> Path | None:
    return Path(value) if value else None
