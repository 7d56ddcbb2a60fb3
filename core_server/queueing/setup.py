"""The administrator's set-up, in transactions that journal the change (``config.updated``):
rooms, queues, screens, display settings, the logo, and adopting the RIS's exam rooms.

Out of the box the RIS knows the hospital's exam rooms (CT一室, 超声一室...) and the queue
service knows none: :meth:`Setup.ris_rooms` says which are not adopted yet and
:meth:`Setup.adopt_ris_rooms` makes, in one step, a call room for each, a queue per modality
served by those rooms (checked-in exams of that modality go there) and, when there is no screen
yet, one waiting-room screen showing every adopted queue. Everything adopted can be changed
afterwards like anything set up by hand.
"""

from __future__ import annotations

import re
from typing import Any

from core_server.queueing import config
from core_server.queueing.base import ServiceBase
from core_server.queueing.exams import ExamRoom
from core_server.queueing.models import DisplaySettings, Queue, Room, Screen
from core_server.queueing.refusals import QueueRefusal

DEFAULT_SCREEN = Screen(code="WAITING", name="候诊区")


class Setup(ServiceBase):
    def rooms(self) -> list[Room]:
        with self._read() as conn:
            return config.list_rooms(conn)

    def room(self, code: str) -> Room:
        with self._read() as conn:
            return config.get_room(conn, code)

    def save_room(self, room: Room, *, create: bool) -> Room:
        with self._write() as tx:
            saved = config.save_room(tx.conn, room, create=create)
            tx.event("config.updated", {"what": "room", "code": room.code}, room=room.code)
        return saved

    def delete_room(self, code: str) -> None:
        with self._write() as tx:
            config.delete_room(tx.conn, code)
            tx.event("config.updated", {"what": "room", "code": code}, room=code)

    def queues(self) -> list[Queue]:
        with self._read() as conn:
            return config.list_queues(conn)

    def queue(self, code: str) -> Queue:
        with self._read() as conn:
            return config.get_queue(conn, code)

    def save_queue(self, queue: Queue, *, create: bool) -> Queue:
        with self._write() as tx:
            saved = config.save_queue(tx.conn, queue, create=create)
            tx.event("config.updated", {"what": "queue", "code": queue.code}, queue=queue.code)
        return saved

    def delete_queue(self, code: str) -> None:
        with self._write() as tx:
            config.delete_queue(tx.conn, code)
            tx.event("config.updated", {"what": "queue", "code": code}, queue=code)

    def screens(self) -> list[Screen]:
        with self._read() as conn:
            return config.list_screens(conn)

    def screen(self, code: str) -> Screen:
        with self._read() as conn:
            return config.get_screen(conn, code)

    def save_screen(self, screen: Screen, *, create: bool) -> Screen:
        with self._write() as tx:
            saved = config.save_screen(tx.conn, screen, create=create)
            tx.event("config.updated", {"what": "screen", "code": screen.code})
        return saved

    def delete_screen(self, code: str) -> None:
        with self._write() as tx:
            config.delete_screen(tx.conn, code)
            tx.event("config.updated", {"what": "screen", "code": code})

    def settings(self) -> DisplaySettings:
        with self._read() as conn:
            return self._settings(conn)

    def save_settings(self, new: DisplaySettings) -> DisplaySettings:
        with self._write() as tx:
            config.save_settings(tx.conn, new)
            tx.event("config.updated", {"what": "settings", "code": ""})
            return self._settings(tx.conn)

    def save_logo(self, data: bytes, content_type: str) -> None:
        with self._write() as tx:
            config.save_logo(tx.conn, data, content_type)
            tx.event("config.updated", {"what": "settings", "code": "logo"})

    def logo(self) -> tuple[bytes, str] | None:
        with self._read() as conn:
            return config.get_logo(conn)

    def journal_config_change(self, what: str, code: str) -> None:
        """Tell screens and callers something they show changed (e.g. a device was added)."""
        with self._write() as tx:
            tx.event("config.updated", {"what": what, "code": code})

    # -- the RIS's rooms -------------------------------------------------------------------

    def ris_rooms(self) -> list[dict[str, Any]]:
        """The RIS's exam rooms, each marked ``adopted`` when the queue has a room of its code."""
        if self.desk is None:
            return []
        known = {room.code for room in self.rooms()}
        return [{**vars(r), "adopted": r.code in known} for r in self.desk.rooms()]

    def adopt_ris_rooms(self, codes: tuple[str, ...] = ()) -> dict[str, list[str]]:
        """Adopt the RIS's rooms (``codes``, default every one not adopted yet): what was made."""
        if self.desk is None:
            raise QueueRefusal("unavailable", "ris")
        wanted = [r for r in self.desk.rooms() if not codes or r.code in codes]
        made: dict[str, list[str]] = {"rooms": [], "queues": [], "screens": []}
        with self._write() as tx:
            conn = tx.conn
            have_rooms = {r.code for r in config.list_rooms(conn)}
            have_queues = {q.code for q in config.list_queues(conn)}
            for room in (r for r in wanted if r.code not in have_rooms):
                queue_code = _queue_code(room)
                if queue_code not in have_queues:
                    config.save_queue(conn, _queue_for(room, queue_code), create=True)
                    have_queues.add(queue_code)
                    made["queues"].append(queue_code)
                config.save_room(conn, _room_for(room, queue_code), create=True)
                made["rooms"].append(room.code)
            if made["queues"] and not config.list_screens(conn):
                queue_codes = tuple(q.code for q in config.list_queues(conn))
                config.save_screen(conn, _screen_for(queue_codes), create=True)
                made["screens"].append(DEFAULT_SCREEN.code)
            if any(made.values()):
                tx.event("config.updated", {"what": "room", "code": ",".join(made["rooms"])})
        return made


def _queue_code(room: ExamRoom) -> str:
    """One queue per modality (CT, MR, US...): a modality's rooms call from the same line."""
    return re.sub(r"[^A-Za-z0-9]", "", room.modality.upper())[:8] or room.code


def _queue_for(room: ExamRoom, code: str) -> Queue:
    return Queue(
        code=code,
        name=f"{room.modality or room.name}检查",
        department=room.department,
        modality=room.modality,
        prefix=code[:8],
    )


def _room_for(room: ExamRoom, queue_code: str) -> Room:
    return Room(
        code=room.code,
        name=room.name,
        department=room.department,
        modality=room.modality,
        queues=(queue_code,),
    )


def _screen_for(queue_codes: tuple[str, ...]) -> Screen:
    return Screen(code=DEFAULT_SCREEN.code, name=DEFAULT_SCREEN.name, queues=queue_codes)
