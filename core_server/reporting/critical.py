"""Critical values (危急值): raised on a report, told to the HIS (the HL7 adapter subscribes and
records its chain: queued, delivered, failed), escalated until a clinician acknowledges them,
and the ticker that escalates and watches deliveries (a
:class:`~core_server.periodic.Periodic`).

An alert shows the patient's name as the RIS has it now (read live, so a rename by an ADT^A08
shows at once), not the copy the report took when it was opened."""

from __future__ import annotations

import json
import logging
from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import Connection, func, insert, or_, select, update

from core_server import clock, db, names
from core_server.periodic import Periodic
from core_server.reporting import records
from core_server.reporting.base import Doctor, ServiceBase
from core_server.reporting.models import (
    CRITICAL_VALUE_ACKNOWLEDGED,
    CRITICAL_VALUE_ESCALATED,
    CRITICAL_VALUE_RAISED,
    AlertEvent,
    AlertNotice,
    Conflict,
    CriticalAlert,
    Forbidden,
    ReportingError,
)
from core_server.reporting.tables import (
    reporting_alert_events,
    reporting_critical_alerts,
    reporting_reports,
)
from core_server.ris import RisError

log = logging.getLogger(__name__)
CARRIER_EVENTS = ("queued", "delivered", "failed")
TICK_SECONDS = 5.0
Name = tuple[str, str]  # a patient's name as stored, and as a person reads it

# A delivery watcher: looks up what happened to queued notifications and records it (the HL7
# adapter registers one that reads its outbound queue's ACKs).
DeliveryWatcher = Callable[[], None]


class CriticalValues(ServiceBase):
    watchers: list[DeliveryWatcher]
    _ticker: Periodic | None = None

    def raise_critical(self, report_id: int, doctor: Doctor, description: str) -> CriticalAlert:
        """Flag a critical value (危急值): the report is marked, an alert opens, the HIS is told
        (the HL7 adapter subscribes to the event), and it escalates until acknowledged."""
        if not description.strip():
            raise ReportingError("reporting.critical.description_required")
        if self.grade(doctor) is None:
            raise Forbidden("reporting.critical.doctors_only")
        now = clock.now()
        with self._write() as conn:
            records.report_row(conn, report_id, for_update=True)
            minutes = self.setting("critical_escalate_minutes", conn)
            key = conn.execute(
                insert(reporting_critical_alerts).values(
                    report_id=report_id,
                    description=description.strip(),
                    raised_by=doctor.username,
                    raised_at=now,
                    status="open",
                    next_escalation_at=now + timedelta(minutes=minutes),
                )
            ).inserted_primary_key
            assert key is not None
            alert_id = int(key[0])
            records.add_alert_event(conn, alert_id, "raised", doctor.username, description.strip())
            conn.execute(
                update(reporting_reports)
                .where(reporting_reports.c.id == report_id)
                .values(critical=True, updated_at=now)
            )
        alert = self.alert(alert_id)
        self.bus.publish(CRITICAL_VALUE_RAISED, _payload(alert))
        return alert

    def alert(self, alert_id: int) -> CriticalAlert:
        with db.read(self.engine) as conn:
            row = records.alert_row(conn, alert_id)
            report = records.report_row(conn, row.report_id)
            chain = records.alert_chain(conn, alert_id)
        return records.alert(row, report, chain, self._live_name(report, {}))

    def alerts(
        self, *, status: str = "", report_id: int | None = None, limit: int = 200
    ) -> list[CriticalAlert]:
        """Alerts, newest first: ``open`` ones are the list clinicians work through."""
        r = reporting_reports.c
        query = (
            select(
                reporting_critical_alerts,
                r.exam_id,
                r.accession_number,
                r.patient_id,
                r.issuer,
                r.patient_name,
                r.department,
            )
            .join(reporting_reports, r.id == reporting_critical_alerts.c.report_id)
            .order_by(reporting_critical_alerts.c.id.desc())
            .limit(limit)
        )
        if status:
            query = query.where(reporting_critical_alerts.c.status == status)
        if report_id is not None:
            query = query.where(reporting_critical_alerts.c.report_id == report_id)
        with db.read(self.engine) as conn:
            rows = conn.execute(query).all()
            chains = _chains(conn, [row.id for row in rows])
        seen: dict[tuple[str, str], Name] = {}
        # The joined row carries the report's columns under their own names.
        return [records.alert(row, row, chains[row.id], self._live_name(row, seen)) for row in rows]

    def _live_name(self, report: Any, seen: dict[tuple[str, str], Name]) -> Name:
        """The patient's name as the RIS has it now, stored and shown (the report's copy if the
        RIS has none)."""
        key = (report.patient_id, report.issuer)
        if key not in seen:
            try:
                patient = self.ris.patient(*key)
                seen[key] = (patient.name, patient.display_name)
            except RisError:
                seen[key] = (report.patient_name, names.display(report.patient_name))
        return seen[key]

    def acknowledge(self, alert_id: int, username: str, note: str = "") -> CriticalAlert:
        """A clinician confirms having received the critical value (and what was done)."""
        with self._write() as conn:
            row = records.alert_row(conn, alert_id)
            if row.status == "acknowledged":
                raise Conflict("reporting.critical.acknowledged", by=row.acknowledged_by)
            conn.execute(
                update(reporting_critical_alerts)
                .where(reporting_critical_alerts.c.id == alert_id)
                .values(
                    status="acknowledged",
                    acknowledged_by=username,
                    acknowledged_at=clock.now(),
                    acknowledgement=note,
                    next_escalation_at=None,
                )
            )
            records.add_alert_event(conn, alert_id, "acknowledged", username, note)
        alert = self.alert(alert_id)
        self.bus.publish(
            CRITICAL_VALUE_ACKNOWLEDGED,
            _payload(alert) | {"acknowledged_by": username, "note": note},
        )
        return alert

    def record_alert_event(
        self,
        alert_id: int,
        kind: str,
        *,
        username: str = "",
        detail: str = "",
        ref: str = "",
        conn: Connection | None = None,
    ) -> None:
        """A link of the chain recorded by whoever carries the alert: ``queued`` (the HL7 job
        id in ``ref``), ``delivered`` (its ACK), ``failed`` (a dead letter). With ``conn``, in
        the caller's transaction (the HL7 adapter records ``queued`` in the one that queues)."""
        if kind not in CARRIER_EVENTS:
            raise ReportingError("reporting.critical.unknown_event", kind=kind)
        if conn is not None:
            records.alert_row(conn, alert_id)
            records.add_alert_event(conn, alert_id, kind, username, detail, ref)
            return
        with self._write() as own:
            records.alert_row(own, alert_id)
            records.add_alert_event(own, alert_id, kind, username, detail, ref)

    def undelivered(self) -> list[tuple[int, str]]:
        """(alert id, ref) of queued notifications with no delivery or failure recorded yet:
        of alerts still open or raised in the last days (the outbound queue settles a message
        within hours, retries and dead letter included), so the ticker's look stays small."""
        recent = select(reporting_critical_alerts.c.id).where(
            or_(
                reporting_critical_alerts.c.status == "open",
                reporting_critical_alerts.c.raised_at >= clock.now() - timedelta(days=3),
            )
        )
        e = reporting_alert_events.c
        with db.read(self.engine) as conn:
            rows = conn.execute(
                select(e.alert_id, e.ref, e.kind)
                .where(e.kind.in_(CARRIER_EVENTS), e.alert_id.in_(recent))
                .order_by(e.id)
            )
            waiting: dict[tuple[int, str], None] = {}
            for alert_id, ref, kind in rows:
                if kind == "queued":
                    waiting[(alert_id, ref)] = None
                else:
                    waiting.pop((alert_id, ref), None)
        return list(waiting)

    def alert_notices(self, after: int = 0, limit: int = 100) -> list[AlertNotice]:
        """Critical values raised or escalated after ``event_id`` ``after``, oldest first: the
        outbox of critical-value messages (as :meth:`result_events` is of results)."""
        e = reporting_alert_events.c
        with db.read(self.engine) as conn:
            rows = conn.execute(
                select(e.id, e.alert_id, e.kind)
                .where(e.id > after, e.kind.in_(["raised", "escalated"]))
                .order_by(e.id)
                .limit(limit)
            ).all()
            notices = []
            for row in rows:
                level = 0
                if row.kind == "escalated":  # the how-many-th escalation of its alert
                    level = conn.execute(
                        select(func.count()).where(
                            e.alert_id == row.alert_id, e.kind == "escalated", e.id <= row.id
                        )
                    ).scalar_one()
                notices.append(AlertNotice(row.id, row.alert_id, row.kind, int(level)))
        return notices

    def escalate_due(self, now: datetime | None = None) -> list[CriticalAlert]:
        """Escalate open alerts past their time: recorded, published (the HL7 adapter sends
        the alert again), and due again after the same interval until acknowledged."""
        now = now or clock.now()
        escalated: list[int] = []
        with self._write() as conn:
            minutes = self.setting("critical_escalate_minutes", conn)
            due = conn.execute(
                select(reporting_critical_alerts).where(
                    reporting_critical_alerts.c.status == "open",
                    reporting_critical_alerts.c.next_escalation_at <= now,
                )
            ).all()
            for row in due:
                if _escalate(conn, row, now, minutes):
                    escalated.append(row.id)
        alerts = [self.alert(a) for a in escalated]
        for alert in alerts:
            self.bus.publish(CRITICAL_VALUE_ESCALATED, _payload(alert))
        return alerts

    # -- the ticker ---------------------------------------------------------------------------

    def tick(self, now: datetime | None = None) -> None:
        """One round of background work: escalations, then delivery watchers."""
        self.escalate_due(now)
        for watch in list(self.watchers):
            try:
                watch()
            except Exception:
                log.exception("critical-value delivery watcher failed")

    def start_background(self, interval: float = TICK_SECONDS) -> None:
        if self._ticker is None:
            self._ticker = Periodic("reporting-ticker", interval, self.tick, cluster=self.engine)
        self._ticker.start()

    def stop_background(self) -> None:
        if self._ticker is not None:
            self._ticker.stop()


def _escalate(conn: Connection, row: Any, now: datetime, minutes: int) -> bool:
    """One more escalation of an open alert (unless another process took it first)."""
    level = row.escalation_level + 1
    taken = conn.execute(
        update(reporting_critical_alerts)
        .where(
            reporting_critical_alerts.c.id == row.id,
            reporting_critical_alerts.c.escalation_level == row.escalation_level,
        )
        .values(escalation_level=level, next_escalation_at=now + timedelta(minutes=minutes))
    ).rowcount
    if taken:
        # What the page says (in its language) is made from these values.
        detail = json.dumps({"minutes": minutes, "level": level})
        records.add_alert_event(conn, row.id, "escalated", "system", detail)
    return bool(taken)


def _chains(conn: Connection, alert_ids: list[int]) -> dict[int, list[AlertEvent]]:
    chains: dict[int, list[AlertEvent]] = {alert_id: [] for alert_id in alert_ids}
    if chains:
        events = conn.execute(
            select(reporting_alert_events)
            .where(reporting_alert_events.c.alert_id.in_(alert_ids))
            .order_by(reporting_alert_events.c.id)
        )
        for event in events:
            chains[event.alert_id].append(records.alert_event(event))
    return chains


def _payload(alert: CriticalAlert) -> dict[str, Any]:
    return {
        "alert_id": alert.id,
        "report_id": alert.report_id,
        "exam_id": alert.exam_id,
        "accession_number": alert.accession_number,
        "patient_id": alert.patient_id,
        "description": alert.description,
        "raised_by": alert.raised_by,
        "level": alert.escalation_level,
    }
