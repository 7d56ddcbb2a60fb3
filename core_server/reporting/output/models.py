"""What report output keeps and hands out: archived objects, print records, reprint grants,
and the settings of archiving and printing."""

from __future__ import annotations

import socket
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from core_server import clock
from core_server.jobs import Retry

KINDS = ("sr", "pdf")  # every signed version
KEY_IMAGES = "ko"  # a signed version whose report has key images
PRINT_ROLES = ("admin", "registrar", "technician", "reporting_doctor", "reviewing_doctor")
REPRINT_ROLES = ("admin",)
# A failed store waits 10 s, doubling up to an hour, and is never given up: a report once
# signed always reaches the archive.
RETRY = Retry(first=10.0, longest=3600.0, max_attempts=None)
LEASE = timedelta(minutes=5)  # how long a claimed row is left to its process
MAX_COPIES = 10
PRINT_FETCH_WINDOW = timedelta(minutes=10)  # a logged print's PDF can be fetched this long
WARM_UP_AFTER = 60.0  # seconds after start: a quiet moment to warm the PDF renderer up
SWEEP_SECONDS = 300.0  # how often the worker looks for signed versions without rows
# Modalities whose pictures are photographs: without chosen key images the first ones print.
PHOTO_MODALITIES = ("US", "ES", "XC", "GM", "OP")
# SOP classes that are no pictures: SR documents, encapsulated documents, presentation states
# and key object selections (the report's own archived objects among them).
NOT_PICTURES = (
    "1.2.840.10008.5.1.4.1.1.88.",
    "1.2.840.10008.5.1.4.1.1.104.",
    "1.2.840.10008.5.1.4.1.1.11.",
)


@dataclass(frozen=True)
class ArchivedObject:
    report_id: int
    version: int
    kind: str
    study_instance_uid: str
    series_instance_uid: str
    sop_instance_uid: str
    status: str  # pending, stored
    attempts: int
    last_error: str
    stored_at: datetime | None


@dataclass(frozen=True)
class PrintRecord:
    id: int
    report_id: int
    version: int
    accession_number: str
    username: str
    printed_at: datetime
    copies: int
    reprint: bool
    reason: str

    def as_dict(self) -> dict[str, Any]:
        return {**self.__dict__, "printed_at": clock.iso(self.printed_at)}


@dataclass(frozen=True)
class ReprintGrant:
    username: str
    granted_by: str
    granted_at: datetime
    note: str


def default_public_url(host: str, port: int) -> str:
    """Where this server is probably reached when no ``public_url`` is set."""
    name = socket.getfqdn() if host in ("", "0.0.0.0", "::") else host
    return f"http://{name}:{port}"


def archived(r: Any) -> ArchivedObject:
    return ArchivedObject(
        r.report_id,
        r.version,
        r.kind,
        r.study_instance_uid,
        r.series_instance_uid,
        r.sop_instance_uid,
        r.status,
        r.attempts,
        r.last_error,
        r.stored_at,
    )


def print_note(reprint: bool, number: int) -> str:
    """The note a reprint carries at the foot of each page (the paper is Chinese only)."""
    return f"补打（第 {number} 次打印）" if reprint else ""
