"""The ISO-only writer: leaves each disc image (and its label as PNG and PDF) in a folder, for
hospitals that burn elsewhere and for tests. A file appears under its final name only when it
is complete (written as ``.part``, then renamed), so whoever picks it up never gets half."""

from __future__ import annotations

import threading
from pathlib import Path

from device_kit.drivers import Availability, Needs
from kiosk_burner.contract import DiscImage, Label, RobotState, WriterProgress
from kiosk_burner.hardware.files import copy_atomically, write_atomically
from kiosk_burner.hardware.labels import render_label


class IsoOnlyWriter:
    def __init__(self, folder: Path, font: Path | None = None) -> None:
        self.folder = Path(folder)
        self.font = font
        self.name = f"ISO files in {self.folder}"
        self._errors: dict[str, str] = {}
        self._lock = threading.Lock()
        self._running: dict[str, threading.Thread] = {}
        self._cancelled: set[str] = set()

    def is_available(self) -> Availability:
        needs = Needs("ISO-only writer").module("PIL", "Pillow").module("qrcode")
        return needs.device(self.folder if self.folder.exists() else self.folder.parent).result()

    def robot_state(self) -> RobotState:
        if self.folder.is_dir() or self.folder.parent.is_dir():
            return RobotState(ok=True)
        return RobotState(ok=False, problems=("robot_error",))

    def iso_path(self, key: str) -> Path:
        return self.folder / f"{key}.iso"

    def submit(self, disc: DiscImage, label: Label, copies: int, key: str) -> None:
        with self._lock:
            if key in self._cancelled:  # a cancelled key submitted again: written afresh
                self._cancelled.discard(key)
                self._running.pop(key, None)
            if key in self._running or self.iso_path(key).exists():
                return  # idempotent
            thread = threading.Thread(
                target=self._write, args=(disc, label, key), name=f"iso-{key}", daemon=True
            )
            self._running[key] = thread
        thread.start()

    def _write(self, disc: DiscImage, label: Label, key: str) -> None:
        try:
            png, pdf = render_label(label, self.font)
            write_atomically(self.folder / f"{key}.label.png", png)
            write_atomically(self.folder / f"{key}.label.pdf", pdf)
            copy_atomically(disc.iso_path, self.iso_path(key))  # last: its presence means done
        except OSError as error:
            self._errors[key] = str(error)

    def progress(self, key: str) -> WriterProgress:
        if key in self._cancelled:
            return WriterProgress("cancelled")
        if key in self._errors:
            return WriterProgress("failed", "burn_failed", self._errors[key])
        if self.iso_path(key).exists():
            return WriterProgress("done")
        thread = self._running.get(key)
        if thread is not None and (thread.ident is None or thread.is_alive()):
            return WriterProgress("burning")
        return WriterProgress("failed", "burn_failed", f"no image {key} in {self.folder}")

    def cancel(self, key: str) -> None:
        self._cancelled.add(key)
        thread = self._running.get(key)
        if thread is not None:
            thread.join()
        for suffix in (".iso", ".label.png", ".label.pdf"):
            (self.folder / f"{key}{suffix}").unlink(missing_ok=True)
