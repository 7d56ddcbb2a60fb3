"""The queueing domain: rooms, queues, tickets, calls, screens and the devices that show them.

Adapters use :class:`QueueService` (one per core process, built in ``core_server.server``), the
device functions, the dataclasses and :class:`QueueError` (a refusal with a code and a message
in Chinese and English). The REST + WebSocket contract is ``docs/queue-api.md``.
"""

from core_server.queueing import devices
from core_server.queueing.exams import ExamDesk, RisExamDesk
from core_server.queueing.feed import EventFeed
from core_server.queueing.journal import Event
from core_server.queueing.masking import mask_name
from core_server.queueing.models import (
    PRIORITY_GROUPS,
    Device,
    DisplaySettings,
    ExamInfo,
    Forbidden,
    Invalid,
    NotFound,
    Queue,
    QueueError,
    Room,
    RoomState,
    Screen,
    Ticket,
    TicketStatus,
)
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
    "Forbidden",
    "Invalid",
    "NotFound",
    "Queue",
    "QueueError",
    "QueueService",
    "Replayed",
    "RisExamDesk",
    "Room",
    "RoomState",
    "Screen",
    "Ticket",
    "TicketStatus",
    "devices",
    "mask_name",
]
