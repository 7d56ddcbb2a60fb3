"""The station's captures store, in ``<state_dir>/captures``: nothing shown as taken is lost.

Each still's JPEG (or clip's MP4) is written to a temporary name, fsynced and renamed, then its
:class:`Capture` record (``<key>.json``) the same way, and the folder fsynced, all before the
screen shows it: a crash, kill -9 or power cut leaves either nothing or a whole capture, which
the next start reloads with its state (taken -> sent | deleted). The exam under way
(``session.json``) and the MPPS steps still to send (``steps/<uid>.json``) are kept the same way.

``device_kit.spool`` (SQLite rows of REST actions) does not fit: a capture is a file of its own
with a record the screen lists, and it leaves by C-STORE, not by a REST request.
"""

from __future__ import annotations

import json
import os
import secrets
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from capture_station.contract import Capture, ExamContext


def write_synced(path: Path, data: bytes) -> None:
    """Temporary name, fsync, rename, fsync of the folder (so the rename itself survives)."""
    temporary = path.with_name(f".{path.name}.tmp")
    with open(temporary, "wb") as f:
        f.write(data)
        f.flush()
        os.fsync(f.fileno())
    os.replace(temporary, path)
    sync_folder(path.parent)


def sync_folder(folder: Path) -> None:
    fd = os.open(folder, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


@dataclass
class Session:
    """The exam under way: a restart resumes it with the same series."""

    exam: ExamContext
    still_series: str
    clip_series: str
    step_uid: str = ""  # the MPPS step's SOP Instance UID once started
    started_at: str = ""
    scope: dict[str, Any] = field(default_factory=dict)  # the endoscope (scope.ScopeUse)

    def as_json(self) -> dict[str, Any]:
        return {**asdict(self), "exam": self.exam.as_json()}

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Session:
        return cls(**{**data, "exam": ExamContext.from_json(data["exam"])})


@dataclass
class Step:
    """One MPPS step to tell the core: created (IN PROGRESS) and later ended."""

    uid: str
    exam: ExamContext
    started_at: str  # ISO with the hospital's offset
    created: bool = False  # N-CREATE answered with success
    end_status: str = ""  # COMPLETED | DISCONTINUED once the exam ended
    ended_at: str = ""
    reason: str = ""
    series: dict[str, list[str]] = field(default_factory=dict)  # series UID -> SOP UIDs
    done: bool = False
    attempts: int = 0

    def as_json(self) -> dict[str, Any]:
        return {**asdict(self), "exam": self.exam.as_json()}

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Step:
        return cls(**{**data, "exam": ExamContext.from_json(data["exam"])})


class CaptureSpool:
    def __init__(self, folder: Path) -> None:
        self.folder = folder
        self.steps_folder = folder / "steps"
        self.steps_folder.mkdir(parents=True, exist_ok=True)
        self._lock = threading.Lock()
        self._in_flight: set[str] = set()
        self._captures: dict[str, Capture] = {}
        for record in sorted(folder.glob("*.json")):
            if record.name == "session.json":
                continue
            capture = Capture.from_json(json.loads(record.read_text(encoding="utf-8")))
            if capture.state != "taken" or (folder / capture.file).is_file():
                self._captures[capture.key] = capture
        # Leftovers of a write that a crash cut short: never shown, never sent.
        for leftover in folder.glob(".*.tmp"):
            leftover.unlink(missing_ok=True)

    @staticmethod
    def new_key() -> str:
        """Sortable by the moment taken (ns), unique across restarts."""
        return f"{time.time_ns():020d}-{secrets.token_hex(3)}"

    def path(self, capture: Capture) -> Path:
        return self.folder / capture.file

    # -- taking ------------------------------------------------------------------------

    def add_still(self, capture: Capture, jpeg: bytes) -> Capture:
        """The JPEG then its record, each fsynced: on return the capture survives anything."""
        capture.file = capture.file or f"{capture.key}.jpg"
        write_synced(self.folder / capture.file, jpeg)
        return self._record(capture)

    def clip_file(self, key: str) -> Path:
        """Where a clip being recorded is written (a hidden name until ``add_clip``)."""
        return self.folder / f".{key}.mp4.recording"

    def add_clip(self, capture: Capture, recorded: Path) -> Capture:
        capture.file = capture.file or f"{capture.key}.mp4"
        with open(recorded, "rb+") as f:
            os.fsync(f.fileno())
        os.replace(recorded, self.folder / capture.file)
        sync_folder(self.folder)
        return self._record(capture)

    def _record(self, capture: Capture) -> Capture:
        write_synced(self.folder / f"{capture.key}.json", _dump(capture.as_json()))
        with self._lock:
            self._captures[capture.key] = capture
        return capture

    # -- reading -----------------------------------------------------------------------

    def captures(self, accession_number: str | None = None) -> list[Capture]:
        with self._lock:
            found = sorted(self._captures.values(), key=lambda c: c.key)
        if accession_number is not None:
            found = [c for c in found if c.exam.accession_number == accession_number]
        return found

    def unsent(self) -> list[Capture]:
        return [c for c in self.captures() if c.state == "taken"]

    def next_instance(self, series_uid: str) -> int:
        with self._lock:
            numbers = [
                c.instance_number
                for c in self._captures.values()
                if c.series_instance_uid == series_uid
            ]
        return max(numbers, default=0) + 1

    # -- leaving -----------------------------------------------------------------------

    @contextmanager
    def sending(self, key: str) -> Iterator[Capture | None]:
        """Hold a capture while the sender stores it (a delete meanwhile is refused); None when
        it was deleted or sent in the meantime."""
        with self._lock:
            capture = self._captures.get(key)
            if capture is None or capture.state != "taken":
                capture = None
            else:
                self._in_flight.add(key)
        try:
            yield capture
        finally:
            with self._lock:
                self._in_flight.discard(key)

    def mark_sent(self, key: str) -> None:
        self._change(key, state="sent", last_error="")

    def failed(self, key: str, error: str) -> None:
        with self._lock:
            attempts = self._captures[key].attempts + 1
        self._change(key, attempts=attempts, last_error=error[:300])

    def delete(self, key: str) -> bool:
        """A wrong capture before it is sent: its file goes, its record says deleted. False
        when it is being sent right now or was sent already."""
        with self._lock:
            capture = self._captures.get(key)
            if capture is None or capture.state != "taken" or key in self._in_flight:
                return False
        self._change(key, state="deleted")
        (self.folder / capture.file).unlink(missing_ok=True)
        return True

    def prune(self, older_than: float, now_ns: int | None = None, keep: str = "") -> int:
        """Remove sent captures (file and record) and the records of deleted ones taken more
        than ``older_than`` seconds ago, and finished MPPS steps as old; never an unsent one,
        never one of the exam under way (accession ``keep``: its thumbnails). Returns how many
        captures went."""
        now_ns = time.time_ns() if now_ns is None else now_ns
        limit = now_ns - int(older_than * 1e9)
        with self._lock:
            old = [
                c
                for c in self._captures.values()
                if c.state in ("sent", "deleted")
                and _taken_ns(c.key) < limit
                and c.exam.accession_number != keep
                and c.key not in self._in_flight
            ]
            for capture in old:
                del self._captures[capture.key]
        for capture in old:
            # The record first: a crash between the two leaves a file no record names, which
            # nothing shows or sends; the other way round would reload a record of no file.
            (self.folder / f"{capture.key}.json").unlink(missing_ok=True)
            (self.folder / capture.file).unlink(missing_ok=True)
        for path in self.steps_folder.glob("*.json"):
            if path.stat().st_mtime_ns < limit and Step.from_json(_load(path)).done:
                path.unlink(missing_ok=True)
        if old:
            sync_folder(self.folder)
        return len(old)

    def _change(self, key: str, **values: Any) -> None:
        with self._lock:
            capture = self._captures[key]
            for name, value in values.items():
                setattr(capture, name, value)
            data = _dump(capture.as_json())
        write_synced(self.folder / f"{key}.json", data)

    # -- the exam under way and its MPPS steps -------------------------------------------

    def session(self) -> Session | None:
        path = self.folder / "session.json"
        if not path.is_file():
            return None
        return Session.from_json(json.loads(path.read_text(encoding="utf-8")))

    def save_session(self, session: Session | None) -> None:
        path = self.folder / "session.json"
        if session is None:
            path.unlink(missing_ok=True)
            sync_folder(self.folder)
        else:
            write_synced(path, _dump(session.as_json()))

    def save_step(self, step: Step) -> None:
        write_synced(self.steps_folder / f"{step.uid}.json", _dump(step.as_json()))

    def steps(self) -> list[Step]:
        found = [
            Step.from_json(json.loads(p.read_text(encoding="utf-8")))
            for p in sorted(self.steps_folder.glob("*.json"))
        ]
        return [s for s in found if not s.done]

    def step(self, uid: str) -> Step | None:
        path = self.steps_folder / f"{uid}.json"
        if not path.is_file():
            return None
        return Step.from_json(json.loads(path.read_text(encoding="utf-8")))


def _taken_ns(key: str) -> int:
    """The moment in a key (``new_key``); 0 for a name that is not one (then it is old)."""
    head = key.split("-", 1)[0]
    return int(head) if head.isdigit() else 0


def _load(path: Path) -> dict[str, Any]:
    data: dict[str, Any] = json.loads(path.read_text(encoding="utf-8"))
    return data


def _dump(data: dict[str, Any]) -> bytes:
    return json.dumps(data, ensure_ascii=False, indent=1).encode("utf-8")
