"""What the parts of the disc kiosk hand each other (one place, so each part can be built and
tested alone): the core's description of a disc job (:class:`Manifest`), a built disc image
(:class:`DiscImage`), what its label prints (:class:`Label`), and the writer interface every
drive and robot driver offers (:class:`DiscWriter`).

The flow: the kiosk claims a job from the core (``/api/discs``), fetches its manifest and the
exams' DICOM objects, ``kiosk_burner.media`` builds one or more IHE PDI disc images, a
:class:`DiscWriter` burns (and verifies) each with its label, and the kiosk reports each step
back to the core, where the job lives.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Literal, Protocol

from device_kit.drivers import Availability

Medium = Literal["CD", "DVD"]
# What each medium holds, with room left for the file system (ISO 9660 + Joliet) and the viewer.
CAPACITY: dict[str, int] = {"CD": 700 * 1000 * 1000, "DVD": 4_700 * 1000 * 1000}


@dataclass(frozen=True)
class DiscExam:
    """One exam on the disc, as the core describes it."""

    exam_id: int
    accession_number: str
    study_instance_uids: tuple[str, ...]
    procedure: str  # the exam item as a person reads it (胸部CT平扫)
    modality: str
    exam_date: str  # ISO date, hospital day
    images: int
    report_pdf_url: str = ""  # the signed report's PDF (relative to the core), "" if none
    report_html: str = ""  # the signed report's text as sanitised HTML, "" if none


@dataclass(frozen=True)
class Manifest:
    """A disc job as ``GET /api/discs/{id}/manifest`` answers it."""

    job_id: int
    copies: int
    hospital_name: str
    patient_id: str
    patient_name: str  # as a person reads it, full (it is the patient's own disc)
    patient_name_latin: str  # pinyin / Latin, for systems without Chinese
    birth_date: str  # ISO date or ""
    sex: str  # M, F, O or ""
    exams: tuple[DiscExam, ...]
    qr_url: str  # the online images and report ("cloud film"), behind the patient check
    qr_expires: str = ""  # ISO 8601 with offset

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Manifest:
        exams = tuple(
            DiscExam(**{**e, "study_instance_uids": tuple(e["study_instance_uids"])})
            for e in data["exams"]
        )
        return cls(**{**data, "exams": exams})

    def as_json(self) -> dict[str, Any]:
        return asdict(self)


@dataclass(frozen=True)
class DiscImage:
    """One built disc: ``number`` of ``of`` (a study too large for one medium spans several,
    each a valid PDI disc)."""

    number: int
    of: int
    medium: Medium
    iso_path: Path
    size_bytes: int
    sha256: str  # of the ISO file
    accession_numbers: tuple[str, ...] = ()


@dataclass(frozen=True)
class Label:
    """What the disc's label prints (robots merge these fields into their label layout; the
    local label printer and the preview use :mod:`kiosk_burner` 's own rendering)."""

    hospital_name: str
    patient_name: str
    exam_lines: tuple[str, ...]  # "2026-12-07 胸部CT平扫" per exam
    disc_number: int
    discs: int
    qr_url: str
    logo_png: bytes | None = None


WriterState = Literal["queued", "burning", "verifying", "labelling", "done", "failed", "cancelled"]


@dataclass(frozen=True)
class WriterProgress:
    """Where a submitted disc is. ``reason``: a message key the kiosk shows when failed
    (``no_blank_disc``, ``disc_too_small``, ``burn_failed``, ``verify_failed``,
    ``out_of_ink``, ``robot_error``); ``detail``: for the log and the desk page."""

    state: WriterState
    reason: str = ""
    detail: str = ""


@dataclass(frozen=True)
class RobotState:
    """A writer's own state: ``ok`` False stops new jobs (the kiosk says "please ask the
    desk", the desk page shows ``problems``)."""

    ok: bool
    problems: tuple[str, ...] = ()  # message keys, e.g. out_of_ink, no_discs, robot_error
    ink_percent: dict[str, int] = field(default_factory=dict)
    discs_left: int | None = None


class DiscWriter(Protocol):
    """A local drive (xorriso), an Epson TD Bridge or Primera PTBurn robot, or the ISO-only
    writer. Submitting returns at once; the kiosk polls :meth:`progress`."""

    name: str

    def is_available(self) -> Availability: ...

    def robot_state(self) -> RobotState: ...

    def submit(self, disc: DiscImage, label: Label, copies: int, key: str) -> None:
        """Start burning ``copies`` of ``disc`` with ``label``; ``key`` names the job in the
        writer (idempotent: submitting a key again does nothing)."""
        ...

    def progress(self, key: str) -> WriterProgress: ...

    def cancel(self, key: str) -> None: ...
