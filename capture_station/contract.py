"""What the parts of the capture station hand each other (one place, so each part can be built
and tested alone): a video :class:`Frame`, the :class:`VideoSource` and :class:`PedalSource`
driver interfaces, the exam a capture belongs to (:class:`ExamContext`), and one taken still or
clip (:class:`Capture`).

The flow: ``hardware.video`` gives frames to the preview and to the capture actions;
``hardware.pedal`` gives pedal presses, which ``app`` maps to actions (still, burst, timed,
clip); a taken still is written (JPEG) and fsynced into the station's spool with its SOP
Instance UID fixed at that moment; ``media`` turns each spooled capture into a DICOM object of
the exam; the sender stores it with C-STORE and marks it sent only on success.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any, Literal, Protocol

import numpy as np

from device_kit.drivers import Availability

Department = Literal["endoscopy", "ultrasound", "photo"]
CaptureKind = Literal["still", "clip"]
CaptureState = Literal["taken", "sent", "deleted"]


@dataclass(frozen=True)
class Frame:
    """One decoded video frame: RGB, ``(height, width, 3)`` uint8."""

    pixels: np.ndarray
    monotonic: float  # time.monotonic() when it was read from the grabber
    index: int = 0  # frame counter of the source since it was opened

    @property
    def size(self) -> tuple[int, int]:
        return int(self.pixels.shape[1]), int(self.pixels.shape[0])


class VideoSource(Protocol):
    """A grabber (V4L2), a file or a test pattern. ``read`` never raises for a lost signal: it
    answers ``None`` ("no signal") and keeps trying to reopen the device behind the scenes, so
    capture resumes by itself when the cable is back."""

    name: str

    def availability(self) -> Availability: ...

    def open(self) -> None: ...

    def read(self, timeout: float = 0.5) -> Frame | None: ...

    @property
    def fps(self) -> float: ...

    def close(self) -> None: ...


@dataclass(frozen=True)
class PedalPress:
    """One pedal (or key) going down or up. ``code`` is the evdev key name (``KEY_B``,
    ``BTN_0``...), which the options map to actions."""

    code: str
    down: bool
    monotonic: float


class PedalSource(Protocol):
    """Pedals: evdev devices grabbed exclusively, or ``events:FILE`` (Linux ``struct
    input_event`` records from a file or FIFO). ``poll`` returns what happened since the last
    call without blocking; a pedal unplugged is a state (``connected`` False), not a crash."""

    def availability(self) -> Availability: ...

    def open(self) -> None: ...

    def poll(self) -> list[PedalPress]: ...

    @property
    def connected(self) -> bool: ...

    def close(self) -> None: ...


@dataclass(frozen=True)
class ExamContext:
    """The exam a capture belongs to, as the worklist (REST or MWL) gave it. Names are DICOM
    Person Names (``WANG^JIANGUO=王^建国``); dates ISO; ``study_instance_uid`` is the
    worklist's, so every capture lands in the exam's study."""

    accession_number: str
    patient_id: str
    patient_name: str  # DICOM PN, with its ideographic group where there is one
    birth_date: str = ""  # ISO date or ""
    sex: str = ""  # M, F, O or ""
    study_instance_uid: str = ""
    requested_procedure: str = ""  # 胃镜检查 / 腹部彩超
    referring_physician: str = ""  # DICOM PN
    body_part: str = ""  # DICOM Body Part Examined (ABDOMEN, STOMACH...)
    modality: str = "ES"  # ES (endoscopy), US, XC (photo)
    exam_id: int | None = None  # the core's exam, None for an emergency without an order
    scheduled_step_id: str = ""  # Scheduled Procedure Step ID, for MPPS
    temporary: bool = False  # an emergency patient made at the station, reconciled later

    def as_json(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> ExamContext:
        return cls(**data)


@dataclass(frozen=True)
class StationIdentity:
    """Who takes the pictures: filled into every object."""

    station_name: str  # DICOM Station Name (the room's station, e.g. WEIJING1)
    ae_title: str  # the station's own AE title (C-STORE calling AE, MWL, MPPS)
    department: Department = "endoscopy"
    operator: str = ""  # DICOM PN of the signed-in operator
    institution: str = ""
    manufacturer: str = "imaging-appliance"


@dataclass
class Capture:
    """One still or clip in the spool. ``sop_instance_uid`` is fixed when it is taken, so a
    resend after a crash stores the same object again, never a second one."""

    key: str  # the spool's name for it (file stem)
    kind: CaptureKind
    sop_instance_uid: str
    series_instance_uid: str
    exam: ExamContext
    taken_at: str  # ISO 8601 with the hospital's offset
    file: str  # the spooled JPEG (still) or MP4 (clip), relative to the spool folder
    width: int
    height: int
    instance_number: int
    frames: int = 1  # a clip's frame count
    duration: float = 0.0  # a clip's seconds
    state: CaptureState = "taken"
    attempts: int = 0
    last_error: str = ""
    caption: str = ""
    extra: dict[str, Any] = field(default_factory=dict)

    def as_json(self) -> dict[str, Any]:
        return {**asdict(self), "exam": self.exam.as_json()}

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Capture:
        return cls(**{**data, "exam": ExamContext.from_json(data["exam"])})
