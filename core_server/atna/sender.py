"""The audit trail, tailed with a durable cursor, sent to the audit repository.

Each round reads the entries after the destination's cursor (oldest first), turns those that
are ATNA events into audit messages and sends them; the cursor moves after every batch and
after the last message sent before a failure, so a restart resumes where the repository
stopped taking them (at most the messages of one interrupted batch go twice: a repository must
bear duplicates, syslog has no acknowledgement). A failure waits 1 s, then 2, 4... up to 5 min.
"""

from __future__ import annotations

import logging
import os
import socket
from datetime import datetime, timedelta

from sqlalchemy import Engine, insert, select, update

from core_server import clock, db
from core_server.archive import Archive
from core_server.atna import codes, facts, messages, syslog
from core_server.atna.tables import atna_cursors
from core_server.auth import AuditEvent, audit_after, record_audit
from core_server.periodic import Periodic

log = logging.getLogger(__name__)

MAX_WAIT = 300.0


class AtnaSender:
    def __init__(
        self,
        engine: Engine,
        archive: Archive,
        transport: syslog.Transport,
        source: messages.Source,
        destination: str,
        *,
        batch: int = 200,
        interval: float = 1.0,
    ) -> None:
        self.engine, self.archive, self.transport = engine, archive, transport
        self.source, self.destination, self.batch = source, destination, batch
        # PostgreSQL may commit ids out of order: wait until an id's neighbours are in.
        self.settle = timedelta(0) if db.is_sqlite(engine) else timedelta(seconds=5)
        self.failures = 0
        self.next_try: datetime | None = None
        self.ticker = Periodic("atna-sender", interval, self.tick, cluster=engine)

    def start(self) -> None:
        self._audit("application.start")
        self.ticker.start()

    def stop(self) -> None:
        self.ticker.stop()
        self._audit("application.stop")
        try:
            self.send_pending()
        except Exception:
            log.warning("ATNA: messages left unsent at stop go at the next start")
        self.transport.close()

    def _audit(self, action: str) -> None:
        record_audit(
            self.engine,
            username=None,
            action=action,
            target=f"application:{self.source.ae_title}",
            detail={"pid": os.getpid()},
            address=self.source.audit_source_id,
        )

    def tick(self) -> None:
        now = clock.now()
        if self.next_try is not None and now < self.next_try:
            return
        try:
            while self.send_pending() >= self.batch:
                pass
        except Exception as exc:
            self.failures += 1
            wait = min(MAX_WAIT, 2.0 ** (self.failures - 1))
            self.next_try = now + timedelta(seconds=wait)
            log.warning(
                "ATNA: audit repository %s: %s; next try in %.0f s", self.destination, exc, wait
            )
            return
        self.failures, self.next_try = 0, None

    def cursor(self) -> int:
        with db.read(self.engine) as conn:
            last = conn.execute(
                select(atna_cursors.c.last_id).where(atna_cursors.c.destination == self.destination)
            ).scalar()
        return int(last or 0)

    def send_pending(self) -> int:
        """Send one batch after the cursor; returns how many entries it went through."""
        last = self.cursor()
        rows = audit_after(self.engine, last, self.batch, until=clock.now() - self.settle)
        done, sent = last, 0
        try:
            for event in rows:
                mapping = codes.mapping_of(event.action)
                if mapping is not None:
                    self.transport.send(self.message(event, mapping))
                    sent += 1
                done = event.id
        finally:
            if done != last:
                self._advance(done, sent)
        return len(rows)

    def message(self, event: AuditEvent, mapping: codes.Mapping) -> bytes:
        studies = facts.studies_of(self.archive, event)
        body = messages.build(event, mapping, self.source, studies)
        return syslog.frame(
            body,
            hostname=self.source.audit_source_id,
            app_name="core-server",
            procid=str(os.getpid()),
            at=event.at,
        )

    def _advance(self, last_id: int, sent: int) -> None:
        now = clock.now()
        with db.write(self.engine) as conn:
            moved = conn.execute(
                update(atna_cursors)
                .where(atna_cursors.c.destination == self.destination)
                .values(last_id=last_id, sent=atna_cursors.c.sent + sent, updated_at=now)
            ).rowcount
            if not moved:
                conn.execute(
                    insert(atna_cursors).values(
                        destination=self.destination, last_id=last_id, sent=sent, updated_at=now
                    )
                )


def hostname() -> str:
    return socket.getfqdn() or socket.gethostname()
