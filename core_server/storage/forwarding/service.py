"""The forwarding service (docs/storage-forwarding.md): the rules' subscriber queues tasks,
a worker round claims them a study at a time and sends them (C-STORE over one association,
or one STOW-RS request), records each task's outcome, and asks storage commitment of the
destinations that take it.

The subscriber of ``archive.instance_stored`` stays off the storing path's cost: it matches
the cached rules and inserts the tasks; the sending happens on the worker's threads.
"""

from __future__ import annotations

import logging
import threading
from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta
from typing import Any

from sqlalchemy import Engine

from core_server import tls
from core_server.archive import Archive, InstanceFile
from core_server.events import EventBus
from core_server.jobs import Retry, this_process
from core_server.periodic import Periodic
from core_server.storage.forwarding import config, match, queue
from core_server.storage.forwarding.config import Destination
from core_server.storage.forwarding.delivery import Delivery
from core_server.storage.forwarding.queue import Task

log = logging.getLogger(__name__)
TOPIC = "storage.forwarding"
INTERVAL = 10.0  # seconds between rounds (a task queued here wakes the worker at once)
WORKERS = 2  # batches sent at the same time (to different destinations or studies)
BATCH = 200  # tasks of one study per association / STOW-RS request
LEASE = timedelta(minutes=15)  # a claim outlives the longest batch; a dead process's runs out
RETRY = Retry(first=30.0, longest=3600.0, max_attempts=12)  # ~ 9 h of tries, then dead
COMMIT_WAIT = 30.0  # seconds the association waits for the N-EVENT-REPORT
RECOMMIT_AFTER = timedelta(hours=6)  # sent, commitment asked, no answer: sent again


class Forwarding:
    def __init__(
        self,
        engine: Engine,
        archive: Archive,
        bus: EventBus,
        *,
        ae_title: str = "PACS",
        tls_files: tls.Files | None = None,
        interval: float = INTERVAL,
        workers: int = WORKERS,
        batch: int = BATCH,
        retry: Retry = RETRY,
        commit_wait: float = COMMIT_WAIT,
        recommit_after: timedelta = RECOMMIT_AFTER,
        subscribe: bool = True,
    ) -> None:
        self.engine = engine
        self.archive = archive
        self.bus = bus
        self.ae_title = ae_title
        self.tls_files = tls_files
        self.workers = workers
        self.batch = batch
        self.retry = retry
        self.commit_wait = commit_wait
        self.recommit_after = recommit_after
        self.owner = this_process()
        self.matcher = match.Matcher(engine)
        self.ticker = Periodic("forwarding", interval, self.run_once, at_start=True)
        self._round = threading.Lock()
        if subscribe:
            bus.subscribe("archive.instance_stored", self.on_stored)
            bus.subscribe("archive.corrected", self.on_corrected)

    # lifecycle
    def start(self) -> None:
        released = queue.JOBS.release_gone(self.engine)
        if released:
            log.warning("forwarding: %d task(s) a stopped core was sending are due again", released)
        self.ticker.start()

    def stop(self) -> None:
        self.ticker.stop()

    def wake(self) -> None:
        """A task was queued (here, by the page, by the CLI): send now, not at the next round."""
        self.ticker.wake()

    # queueing
    def on_stored(self, _topic: str, payload: dict[str, Any]) -> None:
        if self._queued(self.matcher.for_stored(payload)):
            self.wake()

    def on_corrected(self, _topic: str, payload: dict[str, Any]) -> None:
        """Corrected objects (new patient or study attributes) go again to the rules'
        destinations that ask for changes."""
        if self._queued(self.matcher.for_corrected(payload)):
            self.wake()

    def apply_rule(self, rule_id: int) -> int:
        """Queue every stored instance ``rule_id`` matches (reason ``rule``), except those
        already sent or waiting for its destination; how many."""
        queued = self._queued(self.matcher.for_rule(config.rule(self.engine, rule_id)))
        if queued:
            self.wake()
        return queued

    def _queued(self, items: list[queue.Item]) -> int:
        queued = queue.enqueue(self.engine, items) if items else 0
        if queued:
            self.bus.publish(TOPIC, {"action": "queued", "tasks": queued})
        return queued

    # the admin's test button
    def test(self, destination_id: int) -> str | None:
        """C-ECHO a DICOM destination, or an HTTP request to a STOW-RS one: None when it
        answers, else what went wrong."""
        from core_server.storage.forwarding import dicom_sender, stow_sender

        d = config.destination(self.engine, destination_id)
        try:
            if d.kind == "dicom":
                return dicom_sender.echo(self._dicom(d))
            return stow_sender.probe(d)
        except Exception as exc:  # the page shows it; nothing else to do with it
            return f"{type(exc).__name__}: {exc}"

    # the worker
    def run_once(self) -> int:
        """One round: recommit what was never confirmed, then send batches until none is
        due; how many tasks were tried. One round at a time per process."""
        with self._round:
            committing = [d.id for d in config.destinations(self.engine) if d.commitment]
            if queue.recommit(self.engine, committing, self.recommit_after):
                self.bus.publish(TOPIC, {"action": "recommit"})
            queue.forget_reports(self.engine, self.recommit_after)
            with ThreadPoolExecutor(self.workers, thread_name_prefix="forwarding") as pool:
                return sum(pool.map(lambda _: self._drain(), range(self.workers)))

    def _drain(self) -> int:
        tried = 0
        while not self.ticker.stopping:
            enabled = [d.id for d in config.destinations(self.engine) if d.enabled]
            if not enabled:
                break
            batch = queue.claim_batch(
                self.engine, self.owner, LEASE, self.batch, destinations=enabled
            )
            if not batch:
                break
            self.send_batch(batch)
            tried += len(batch)
        return tried

    def send_batch(self, batch: list[Task]) -> dict[str, str]:
        """Send one claimed batch and record each task's outcome: SOP instance -> status."""
        d = config.destination(self.engine, batch[0].destination_id)
        files, missing = self._files(batch)
        delivery = Delivery()
        if files:
            try:
                delivery = self._send(d, files)
            except Exception as exc:
                log.warning("forwarding to %s: %s", d.name, exc)
                delivery = Delivery(error=f"{type(exc).__name__}: {exc}")
        outcome = self._recorded(batch, delivery, missing)
        if delivery.transaction_uid:
            self._late_report(delivery.transaction_uid)
        log.info(
            "forwarding to %s: %d task(s): %s",
            d.name,
            len(batch),
            ", ".join(
                f"{s} {list(outcome.values()).count(s)}" for s in sorted(set(outcome.values()))
            ),
        )
        self.bus.publish(TOPIC, {"action": "sent", "destination_id": d.id, "tasks": len(batch)})
        return outcome

    def _files(self, batch: list[Task]) -> tuple[list[InstanceFile], set[str]]:
        """The batch's stored files (recalled first when only on nearline), and the SOP
        instances no longer in the archive."""
        wanted = {t.sop_instance_uid for t in batch}
        found = {
            f.sop_instance_uid: f
            for f in self.archive.locate({"StudyInstanceUID": batch[0].study_instance_uid})
            if f.sop_instance_uid in wanted
        }
        for uid in wanted - set(found):  # moved to another study by a correction since
            for f in self.archive.locate({"SOPInstanceUID": uid}):
                found[uid] = f
        ordered = [found[t.sop_instance_uid] for t in batch if t.sop_instance_uid in found]
        return ordered, wanted - set(found)

    def _send(self, d: Destination, files: list[InstanceFile]) -> Delivery:
        from core_server.storage.forwarding import dicom_sender, stow_sender

        if d.kind == "stow":
            return stow_sender.send(d, files)
        return dicom_sender.send(self._dicom(d), files)

    def _dicom(self, d: Destination) -> Any:
        from core_server.storage.forwarding import dicom_sender

        host, port, use_tls = config.address(self.engine, d)
        context = None
        if use_tls:
            if self.tls_files is None:
                raise ConnectionRefusedError("TLS destination but no TLS settings")
            context = tls.outgoing(self.tls_files)
        return dicom_sender.Peer(
            ae_title=d.ae_title,
            host=host,
            port=port,
            calling=self.ae_title,
            tls=context,
            commitment=d.commitment,
            commit_wait=self.commit_wait,
        )

    def _recorded(self, batch: list[Task], delivery: Delivery, missing: set[str]) -> dict[str, str]:
        """Each task's outcome recorded: the stored ones in one transaction, failures one by
        one with their back-off. SOP instance -> status."""
        outcome: dict[str, str] = {}
        for status, names in ((queue.COMMITTED, delivery.committed), (queue.SENT, delivery.sent)):
            done = [
                t
                for t in batch
                if t.sop_instance_uid in names
                and t.sop_instance_uid not in outcome
                and t.sop_instance_uid not in missing
                and t.sop_instance_uid not in delivery.failed
            ]
            queue.record_done(self.engine, done, self.owner, status, delivery.transaction_uid)
            outcome.update((t.sop_instance_uid, status) for t in done)
        for task in batch:
            if task.sop_instance_uid not in outcome:
                outcome[task.sop_instance_uid] = self._failed(task, delivery, missing)
        return outcome

    def _failed(self, task: Task, delivery: Delivery, missing: set[str]) -> str:
        uid = task.sop_instance_uid
        if uid in missing:
            error, final = "no longer in the archive (deleted or rejected)", True
        elif uid in delivery.failed:
            error, final = delivery.failed[uid]
        else:
            error = delivery.error or "not sent (the association ended first)"
            final = False
        return queue.record(
            self.engine, task, self.owner, self.retry, status="failed", error=error, give_up=final
        )

    # storage commitment answered later
    def _late_report(self, transaction_uid: str) -> None:
        """The batch of ``transaction_uid`` is recorded: the report that came meanwhile, on
        another association to this process or to another (kept in the database)."""
        from core_server.storage.forwarding import dicom_sender

        late = dicom_sender.finish(transaction_uid)
        if late is not None:
            self.on_report(transaction_uid, sorted(late.committed), sorted(late.failed))
        kept = queue.kept_report(self.engine, transaction_uid)
        if kept is not None:
            self.on_report(transaction_uid, *kept)

    def on_report(self, transaction_uid: str, committed: list[str], failed: list[str]) -> int:
        """An N-EVENT-REPORT that came after the association ended (for the core's DICOM
        listener to hand over): its tasks committed; failed ones sent again. How many."""
        done = _commit(self.engine, self.bus, transaction_uid, committed, failed)
        if done:
            self.wake()
        return done


def take_report(engine: Engine, bus: EventBus, payload: dict[str, Any]) -> int:
    """A storage commitment report the core's DICOM listener received, in whichever of the
    cluster's processes (a DICOM worker, another node): to the batch of this process still
    waiting for it, else on its ``sent`` tasks, else kept until its batch is recorded. How many
    tasks it changed now."""
    from core_server.storage.forwarding import dicom_sender

    if dicom_sender.deliver(payload):
        return 0
    transaction_uid = str(payload.get("transaction_uid") or "")
    committed = [str(u) for u in payload.get("committed") or []]
    failed = [str(u) for u in payload.get("failed") or []]
    done = _commit(engine, bus, transaction_uid, committed, failed)
    if not done and transaction_uid:
        queue.keep_report(engine, transaction_uid, committed, failed)
    return done


def _commit(
    engine: Engine, bus: EventBus, transaction_uid: str, committed: list[str], failed: list[str]
) -> int:
    """A report on its ``sent`` tasks (:func:`queue.committed`), told on the bus."""
    done = queue.committed(engine, transaction_uid, committed, failed)
    if done:
        bus.publish(TOPIC, {"action": "committed", "tasks": done})
    return done
