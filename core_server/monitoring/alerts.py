"""Alerts: a condition seen in a round raises its alert once; the first round that no longer
sees it clears it. Raised and cleared alerts go to the notifiers (syslog, mail).

An alert's key names what it is about. Disks and the certificate are one node's
(``disk:storage@node``), so a node only clears its own; queues and devices are the site's
(``queue:hl7_outbound``), checked by every node, raised by whichever sees them first.
"""

from __future__ import annotations

import json
import logging
import ssl
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from sqlalchemy import Engine, func, insert, or_, select, update
from sqlalchemy.exc import IntegrityError

from core_server import clock, db, i18n
from core_server.monitoring import readings
from core_server.monitoring.tables import monitoring_alerts as alerts_table

log = logging.getLogger(__name__)
SITE_KINDS = ("queue", "device")  # alerts of the site, not of one node


@dataclass(frozen=True)
class Condition:
    """A condition that holds now: ``values`` fill the alert's text."""

    key: str
    kind: str
    subject: str
    values: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class Alert:
    id: int
    key: str
    kind: str
    subject: str
    values: dict[str, Any]
    raised_at: datetime
    cleared_at: datetime | None

    def text(self, lang: str) -> str:
        values = dict(self.values)
        if "queue" in values:  # the queue and the disk by their names in the reader's words
            values["queue"] = i18n.translate(lang, f"monitoring.queue.{values['queue']}")
        if "area" in values:
            values["area"] = i18n.translate(lang, f"monitoring.disk.{values['area']}")
        return i18n.translate(lang, f"monitoring.alert.{self.kind}", **values)

    def as_dict(self, lang: str) -> dict[str, Any]:
        return {
            "id": self.id,
            "kind": self.kind,
            "subject": self.subject,
            "text": self.text(lang),
            "raised_at": clock.iso(self.raised_at),
            "cleared_at": clock.iso(self.cleared_at),
        }


Notifier = Callable[[str, Alert], None]  # ("raised" | "cleared", alert)


def disk_conditions(disks: Iterable[readings.Disk], limit: float, node: str) -> list[Condition]:
    return [
        Condition(
            f"disk:{d.area}@{node}",
            "disk",
            f"{d.area} {d.path}",
            {"area": d.area, "path": str(d.path), "percent": d.percent, "limit": limit},
        )
        for d in disks
        if d.percent >= limit
    ]


def queue_conditions(
    queues: Iterable[readings.Queue], stall: timedelta, now: datetime
) -> list[Condition]:
    return [
        Condition(
            f"queue:{q.name}",
            "queue",
            q.name,
            {
                "queue": q.name,
                "minutes": int(q.oldest_age(now) // 60),
                "pending": q.counts.get("pending", 0),
            },
        )
        for q in queues
        if q.oldest_pending is not None and now - q.oldest_pending > stall
    ]


def device_conditions(devices: Iterable[readings.DeviceState]) -> list[Condition]:
    return [
        Condition(
            f"device:{d.name}",
            "device",
            d.name,
            {"device": d.name, "last_seen": clock.shown(d.last_seen_at) or "-"},
        )
        for d in devices
        if not d.online
    ]


def certificate_expiry(path: Path) -> datetime:
    """The notAfter of a PEM certificate (the stdlib's decoder of a test certificate)."""
    decoded = ssl._ssl._test_decode_cert(str(path))  # type: ignore[attr-defined]
    return datetime.fromtimestamp(ssl.cert_time_to_seconds(decoded["notAfter"]), UTC)


def certificate_conditions(
    path: Path | None, within: timedelta, now: datetime, node: str
) -> list[Condition]:
    if path is None:
        return []
    try:
        expires = certificate_expiry(path)
    except (OSError, ValueError, ssl.SSLError) as exc:
        log.warning("certificate %s could not be read: %s", path, exc)
        expires = now  # unreadable counts as expired: the admin must look
    if expires - now > within:
        return []
    days = max(0, (expires - now).days)
    return [
        Condition(
            f"certificate@{node}",
            "certificate",
            str(path),
            {"path": str(path), "days": days, "expires": clock.shown(expires)},
        )
    ]


class Alerts:
    def __init__(self, engine: Engine, node: str, notifiers: list[Notifier] | None = None) -> None:
        self.engine = engine
        self.node = node
        self.notifiers = notifiers or []

    def _mine(self) -> Any:
        """The open alerts this node may clear: its own and the site's."""
        c = alerts_table.c
        return or_(c.key.like(f"%@{self.node}"), c.kind.in_(SITE_KINDS))

    def update(self, conditions: list[Condition]) -> tuple[list[Alert], list[Alert]]:
        """Raise what is new, clear what ended; (raised, cleared)."""
        now = clock.now()
        seen = {c.key: c for c in conditions}
        c = alerts_table.c
        with db.read(self.engine) as conn:
            open_rows = conn.execute(select(alerts_table).where(c.open_key.is_not(None))).all()
        open_keys = {r.key for r in open_rows}
        new = [item for item in seen.items() if item[0] not in open_keys]
        raised = [a for a in (self._raise(item, now) for item in new) if a is not None]
        cleared = []
        with db.write(self.engine) as conn:
            ending = conn.execute(
                select(alerts_table).where(
                    c.open_key.is_not(None), self._mine(), c.key.not_in(list(seen) or [""])
                )
            ).all()
            for row in ending:
                conn.execute(
                    update(alerts_table)
                    .where(c.id == row.id, c.open_key.is_not(None))
                    .values(open_key=None, cleared_at=now)
                )
                cleared.append(_alert(row, cleared_at=now))
        for alert in raised:
            self._notify("raised", alert)
        for alert in cleared:
            self._notify("cleared", alert)
        return raised, cleared

    def _raise(self, item: tuple[str, Condition], now: datetime) -> Alert | None:
        key, condition = item
        values = {
            "key": key,
            "open_key": key,
            "kind": condition.kind,
            "subject": condition.subject[:200],
            "detail": json.dumps(condition.values, ensure_ascii=False),
            "raised_at": now,
        }
        try:
            with db.write(self.engine) as conn:
                new_id = conn.execute(insert(alerts_table).values(**values)).inserted_primary_key
        except IntegrityError:
            return None  # open already (this node's earlier round, or another node's)
        assert new_id is not None
        return Alert(
            int(new_id[0]), key, condition.kind, condition.subject, condition.values, now, None
        )

    def _notify(self, change: str, alert: Alert) -> None:
        log.warning("alert %s: %s", change, alert.text("en"))
        for notifier in self.notifiers:
            try:
                notifier(change, alert)
            except Exception:
                log.exception("alert notifier %r failed", notifier)

    def listing(self, since: datetime) -> list[Alert]:
        """Open alerts and those raised since ``since``, newest first."""
        c = alerts_table.c
        with db.read(self.engine) as conn:
            rows = conn.execute(
                select(alerts_table)
                .where(or_(c.open_key.is_not(None), c.raised_at >= since))
                .order_by(c.raised_at.desc(), c.id.desc())
            ).all()
        return [_alert(r) for r in rows]

    def open_count(self) -> int:
        with db.read(self.engine) as conn:
            count = conn.execute(
                select(func.count()).where(alerts_table.c.open_key.is_not(None))
            ).scalar()
        return int(count or 0)

    def prune(self, before: datetime) -> int:
        c = alerts_table.c
        with db.write(self.engine) as conn:
            gone = conn.execute(
                alerts_table.delete().where(c.open_key.is_(None), c.cleared_at < before)
            )
        return int(gone.rowcount or 0)


def _alert(row: Any, cleared_at: datetime | None = None) -> Alert:
    return Alert(
        int(row.id),
        row.key,
        row.kind,
        row.subject,
        json.loads(row.detail or "{}"),
        row.raised_at,
        cleared_at or row.cleared_at,
    )
