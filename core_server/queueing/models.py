"""What the queue service takes in and gives out: plain dataclasses (its refusals are in
:mod:`~core_server.queueing.refusals`)."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from datetime import date, datetime
from enum import StrEnum
from typing import Any

from core_server import clock


class TicketStatus(StrEnum):
    WAITING = "waiting"
    CALLED = "called"
    IN_PROGRESS = "in_progress"
    FINISHED = "finished"
    MISSED = "missed"
    CANCELLED = "cancelled"
    ABSENT = "absent"  # missed too often: closed


OPEN_STATUSES = (
    TicketStatus.WAITING,
    TicketStatus.CALLED,
    TicketStatus.IN_PROGRESS,
    TicketStatus.MISSED,
)


class RoomState(StrEnum):
    IDLE = "idle"  # no current patient
    CALLING = "calling"  # a patient was called and has not started the exam yet
    BUSY = "busy"  # an exam in progress
    PAUSED = "paused"  # no calls


# Who may be put ahead of ordinary patients (after emergencies). The administrator chooses per
# queue which of these it honours; all honoured groups share one tier, ordered by time.
PRIORITY_GROUPS = {
    "elderly": ("老年人", "Elderly"),
    "child": ("儿童", "Child"),
    "pregnant": ("孕妇", "Pregnant"),
    "military": ("军人", "Military"),
    "disabled": ("残疾人", "Disabled"),
}
DEFAULT_PRIORITY_GROUPS = ",".join(PRIORITY_GROUPS)
DEFAULT_VOICE_TEMPLATE = "请{号码}号{姓名}到{诊室}检查"


class _Dict:
    def as_dict(self) -> dict[str, Any]:
        return _jsonable(asdict(self))  # type: ignore[call-overload]


def _jsonable(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: _jsonable(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_jsonable(v) for v in value]
    if isinstance(value, datetime):
        return clock.iso(value)  # with the hospital's offset
    if isinstance(value, date):
        return value.isoformat()
    return value


@dataclass(frozen=True)
class ExamInfo(_Dict):
    """What the queue copies from a RIS exam when it issues a ticket."""

    exam_id: int | None
    accession: str
    patient_id: str
    patient_name: str
    exam_name: str
    modality: str
    department: str = ""
    room: str = ""
    sex: str = ""
    age: str = ""
    scheduled_at: datetime | None = None
    emergency: bool = False
    status: str = "scheduled"


@dataclass(frozen=True)
class Room(_Dict):
    code: str
    name: str
    department: str = ""
    modality: str = ""
    queues: tuple[str, ...] = ()
    min_call_interval_seconds: int = 5
    position: int = 0
    state: str = RoomState.IDLE
    current_ticket_id: int | None = None
    last_call_at: datetime | None = None


@dataclass(frozen=True)
class Queue(_Dict):
    code: str
    name: str
    department: str = ""
    modality: str = ""
    prefix: str = ""
    order_by: str = "arrival"  # arrival | appointment
    priority_groups: tuple[str, ...] = tuple(PRIORITY_GROUPS)
    late_grace_minutes: int = 15
    late_rule: str = "back"  # back | insert
    late_insert_every: int = 3
    missed_suspend_minutes: int = 5
    missed_rule: str = "insert"  # back | insert
    missed_insert_every: int = 2
    missed_max: int = 3
    voice_template: str = DEFAULT_VOICE_TEMPLATE
    voice_repeat: int = 2
    position: int = 0
    rooms: tuple[str, ...] = ()


@dataclass(frozen=True)
class Screen(_Dict):
    code: str
    name: str
    orientation: str = "landscape"  # landscape | portrait
    rows: int = 8
    page_seconds: int = 8
    mask_names: bool = True
    queues: tuple[str, ...] = ()


@dataclass(frozen=True)
class DisplaySettings(_Dict):
    hospital_name: str = ""
    # The core's one time zone (``--timezone``), shown read-only: screens and tickets use it.
    timezone: str = clock.DEFAULT_ZONE
    font_title: int = 48
    font_header: int = 36
    font_list: int = 32
    font_call: int = 64
    font_clock: int = 28
    voice_enabled: bool = True
    voice_rate: int = 150
    voice_name: str = "full"  # full | surname | none
    has_logo: bool = False


@dataclass(frozen=True)
class Device(_Dict):
    name: str
    kind: str  # screen | caller | printer
    room: str | None = None
    screen: str | None = None
    queues: tuple[str, ...] = ()
    username: str = ""
    created_at: datetime | None = None
    last_seen_at: datetime | None = None


@dataclass(frozen=True)
class Ticket(_Dict):
    id: int
    number: str
    queue: str
    status: str
    name: str
    masked_name: str
    patient_id: str
    sex: str
    age: str
    accession: str
    exam_id: int | None
    exam: str
    priority: str | None
    returned: bool
    late: bool
    arrived_at: datetime
    appointment_at: datetime | None
    called_at: datetime | None
    call_count: int
    room: str | None
    missed_count: int
    back_at: datetime | None
    service_day: date = field(default_factory=clock.today)
