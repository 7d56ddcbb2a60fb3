"""What the Epson and Primera writers share: a robot PC (Windows, the vendor's software) that
watches a folder shared with the kiosk. The kiosk copies the ISO and the label into a data
folder, then drops a job file into the hot folder (both under a temporary name, renamed when
complete: the robot never takes half a file), and reads back the files the robot writes.

Paths inside a job file are the robot's: ``robot_path`` is the data folder as the robot PC
sees it (``D:\\discs`` or ``\\\\kiosk\\discs``); empty when both see the same path."""

from __future__ import annotations

import time
from pathlib import Path, PurePosixPath, PureWindowsPath

from kiosk_burner.contract import DiscImage, Label
from kiosk_burner.hardware.files import copy_atomically, write_atomically
from kiosk_burner.hardware.labels import render_label

# Words in a robot's error text -> the contract's reason keys (first match wins).
ERROR_WORDS: tuple[tuple[tuple[str, ...], str], ...] = (
    (("CANCEL", "ABORT"), "cancelled"),
    (("INK",), "out_of_ink"),
    (
        (
            "NOT BLANK",
            "NOT_BLANK",
            "NO DISC",
            "NO_DISC",
            "DISC_EMPTY",
            "STACKER",
            "BIN EMPTY",
            "BIN_EMPTY",
            "NO MEDIA",
            "NO_MEDIA",
        ),
        "no_blank_disc",
    ),
    (("CAPACITY", "TOO SMALL", "TOO_SMALL", "OVERSIZE", "NOT ENOUGH SPACE"), "disc_too_small"),
    (("VERIFY", "COMPARE"), "verify_failed"),
    (("WRITE", "BURN", "RECORD"), "burn_failed"),
)


def reason_of(text: str) -> str:
    upper = text.upper()
    for words, reason in ERROR_WORDS:
        if any(word in upper for word in words):
            return reason
    return "robot_error"


class HotFolderWriter:
    """Base of :class:`EpsonTdBridge` and :class:`PrimeraPtBurn`."""

    job_suffix = ".JOB"
    label_format = "PNG"

    def __init__(
        self,
        hot_folder: Path,
        data_folder: Path | None = None,
        robot_path: str = "",
        encoding: str = "gb18030",
        label_template: str = "",
        status_max_age: float = 300.0,
        font: Path | None = None,
    ) -> None:
        "".encode(encoding)  # an unknown encoding fails at start-up, not at the first job
        self.hot_folder = Path(hot_folder)
        self.data_folder = Path(data_folder) if data_folder else self.hot_folder / "data"
        self.robot_path = robot_path
        self.encoding = encoding
        self.label_template = label_template
        self.status_max_age = status_max_age
        self.font = font

    # -- paths ----------------------------------------------------------------------------
    def job_file(self, key: str) -> Path:
        return self.hot_folder / f"{key}{self.job_suffix}"

    def data_file(self, key: str, suffix: str) -> Path:
        return self.data_folder / f"{key}{suffix}"

    def for_robot(self, path: Path) -> str:
        """``path`` (in the data folder) as the robot PC names it."""
        if not self.robot_path:
            return str(path)
        relative = PurePosixPath(path.relative_to(self.data_folder))
        return str(PureWindowsPath(self.robot_path, *relative.parts))

    def _cancel_marker(self, key: str) -> Path:
        return self.data_file(key, ".cancelled")

    def status_is_fresh(self, path: Path) -> bool:
        try:
            return time.time() - path.stat().st_mtime <= self.status_max_age
        except FileNotFoundError:
            return False

    # -- submitting -----------------------------------------------------------------------
    def known(self, key: str) -> bool:
        return self.data_file(key, ".submitted").exists() or self.job_file(key).exists()

    def submit(self, disc: DiscImage, label: Label, copies: int, key: str) -> None:
        if self.known(key):
            return  # idempotent: the job is (or was) with the robot already
        png, pdf = render_label(label, self.font)
        label_file = self.data_file(key, ".png")
        if self.label_format == "JPEG":  # PTBurn prints JPEG/BMP, not PNG
            label_file = self.data_file(key, ".jpg")
            write_atomically(label_file, _as_jpeg(png))
        else:
            write_atomically(label_file, png)
        write_atomically(self.data_file(key, ".pdf"), pdf)
        iso = self.data_file(key, ".iso")
        copy_atomically(disc.iso_path, iso)  # complete before any job file names it
        self.write_job(key, disc, label, copies, iso, label_file)
        self.data_file(key, ".submitted").touch()

    def write_job(
        self, key: str, disc: DiscImage, label: Label, copies: int, iso: Path, label_file: Path
    ) -> None:
        raise NotImplementedError

    def drop_job(self, key: str, content: bytes) -> None:
        """The job file into the hot folder: written as ``.part``, renamed to its name."""
        write_atomically(self.job_file(key), content)

    def forget_untaken(self, key: str) -> bool:
        """Remove a job the robot has not taken yet; True if it was still waiting."""
        self._cancel_marker(key).parent.mkdir(parents=True, exist_ok=True)
        self._cancel_marker(key).touch()
        try:
            self.job_file(key).unlink()
            return True
        except FileNotFoundError:
            return False

    def was_cancelled(self, key: str) -> bool:
        return self._cancel_marker(key).exists()


def _as_jpeg(png: bytes) -> bytes:
    import io

    from PIL import Image

    out = io.BytesIO()
    Image.open(io.BytesIO(png)).convert("RGB").save(out, "JPEG", quality=95)
    return out.getvalue()
