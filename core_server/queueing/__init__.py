"""The queueing domain: rooms, queues, tickets, calls, screens and the devices that show them.

Adapters use :class:`QueueService` (one per core process, built in ``core_server.server``), the
device functions, the dataclasses and the refusals (:class:`QueueRefusal`: a stable ``code``
the device programs act on, its text in the message catalogue). The REST + WebSocket contract
is ``docs/queue-api.md``.
"""

from core_server.queueing import devices
from core_server.queueing.exams import ExamDesk, ExamRoom, RisExamDesk
from core_server.queueing.feed import EventFeed
from core_server.queueing.journal import Event
from core_server.queueing.models import (
    PRIORITY_GROUPS,
    Device,
    DisplaySettings,
    ExamInfo,
    Queue,
    Room,
    RoomState,
    Screen,
    Ticket,
    TicketStatus,
)
from core_server.queueing.refusals import Forbidden, Invalid, NotFound, QueueRefusal
from core_server.queueing.service import TOPIC, QueueService
from core_server.queueing.transactions import Replayed

__all__ = [
    "PRIORITY_GROUPS",
    "TOPIC",
    "Device",
    "DisplaySettings",
    "Event",
    "EventFeed",
    "ExamDesk",
    "ExamInfo",
    "ExamRoom",
    "Forbidden",
    "Invalid",
    "NotFound",
    "Queue",
    "QueueRefusal",
    "QueueService",
    "Replayed",
    "RisExamDesk",
    "Room",
    "RoomState",
    "Screen",
    "Ticket",
    "TicketStatus",
    "devices",
]
