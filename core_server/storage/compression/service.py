"""The compression part's background work: each rule's scan turns matching instances into
durable jobs (``compression_jobs``, :mod:`core_server.jobs`), and a worker carries the jobs out
through :func:`core_server.archive.recompress.replace`.

A scan is a cursor over instance ids per rule (``scanned_to_id``), moved forward in the same
transaction that inserts its jobs, on the condition that nobody else moved it (several core
processes: only one gets each stretch). ``on_ingest`` rules start at the newest instance when
made; the ``archive.instance_stored`` event only wakes the worker (nothing is written in the
C-STORE's acknowledgement path), and a restarted core finds the objects its cursor has not
passed. ``on_schedule`` rules are scanned at most every ``schedule_every`` seconds, at most
``schedule_batch`` jobs a scan: the bounded rate.

A lossless job checks its own work: the new file is decoded and compared with the old one's
samples before the index is switched; a difference is a dead letter (never a replacement)."""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass
from datetime import timedelta
from io import BytesIO
from typing import Any

from pydicom import dcmread
from sqlalchemy import Engine, insert, update

from core_server import clock, db, jobs, metrics
from core_server.archive import recompress
from core_server.archive.storage import StorageArea
from core_server.periodic import Periodic
from core_server.storage.compression import codecs
from core_server.storage.compression import rules as r
from core_server.storage.compression.tables import compression_jobs
from core_server.storage.compression.tables import compression_rules as rules_table

log = logging.getLogger(__name__)
QUEUE = jobs.Jobs(compression_jobs, claimed="running")
RETRY = jobs.Retry(first=30, longest=3600, max_attempts=5)
LEASE = timedelta(minutes=10)
DONE, LEFT = "done", "left"
STATES = (jobs.PENDING, "running", DONE, LEFT, jobs.DEAD)  # the jobs' statuses, for metrics
WAKE_GAP = 1.0  # seconds: stored objects wake the worker at most this often


@dataclass
class Options:
    interval: float = 5.0  # seconds between rounds when nothing wakes the worker
    jobs_per_round: int = 50
    ingest_batch: int = 500
    schedule_every: float = 300.0
    schedule_batch: int = 200


class LeftAlone(Exception):
    """The object stays as it is: why (no pixel data, already lossy, in that syntax...)."""


class Compression:
    def __init__(self, engine: Engine, storage: StorageArea, options: Options | None = None):
        self.engine = engine
        self.storage = storage
        self.options = options or Options()
        self.owner = jobs.this_process()
        self.worker = Periodic("compression", self.options.interval, self.round, at_start=True)
        self._scheduled_at = 0.0
        # Whether jobs may be due: claiming is a write transaction, so a round does not claim
        # after one found nothing until it queued some or a minute passed (another process's).
        self._maybe_due = True
        self._looked_at = 0.0
        self._woken_at = -WAKE_GAP  # the last wake-up by a stored object (monotonic)

    def start(self) -> None:
        metrics.count_at_scrape(metrics.COMPRESSION_JOBS, STATES, self.counts)
        recompress.recover(self.engine, self.storage)
        QUEUE.release_gone(self.engine)
        self.worker.start()

    def stop(self) -> None:
        self.worker.stop()

    def on_stored(self, _topic: str, _payload: dict[str, Any] | None = None) -> None:
        """``archive.instance_stored``: look soon (only a wake-up: no work in the C-STORE's
        acknowledgement path), at most once every :data:`WAKE_GAP` seconds: a round per stored
        object (reading the rules, a scan per rule) took a tenth of the CPU of a modality's
        burst. What a skipped wake-up leaves is found by the next one or the next round."""
        now = time.monotonic()
        if now - self._woken_at >= WAKE_GAP:
            self._woken_at = now
            self.worker.wake()

    # -- one round -----------------------------------------------------------------------

    def round(self) -> dict[str, int]:
        queued = self.scan("on_ingest", self.options.ingest_batch)
        if time.monotonic() - self._scheduled_at >= self.options.schedule_every:
            self._scheduled_at = time.monotonic()
            queued += self.scan("on_schedule", self.options.schedule_batch)
        done = 0
        if queued or time.monotonic() - self._looked_at >= 60:
            self._maybe_due = True
        while self._maybe_due and done < self.options.jobs_per_round:
            if self.worker.stopping:
                break
            if not self.run_one():
                self._maybe_due = False
                self._looked_at = time.monotonic()
                break
            done += 1
        return {"queued": queued, "ran": done}

    def scan(self, trigger: str, batch: int, *, dry_run: bool = False) -> int:
        """Jobs for instances the enabled ``trigger`` rules have not looked at yet (at most
        ``batch``); with ``dry_run`` only counted, cursors left."""
        ordered = [x for x in r.all_rules(self.engine) if x.trigger == trigger and x.enabled]
        now = clock.now()
        total = 0
        for rule in ordered:
            found = recompress.candidates(
                self.engine,
                modalities=rule.modalities,
                sop_class_uid=rule.sop_class_uid,
                source_ae_title=rule.source_ae_title,
                received_before=rule.cutoff(now) if trigger == "on_schedule" else None,
                after_id=rule.scanned_to_id,
                limit=max(0, batch - total),
            )
            if not found:
                continue
            chosen = [o for _, o in found if r.deciding(ordered, o, now) is rule]
            chosen = [o for o in chosen if o.transfer_syntax_uid != rule.transfer_syntax_uid]
            total += len(chosen)
            if not dry_run:
                self._queue(rule, found[-1][0], chosen)
            if total >= batch:
                break
        return total

    def _queue(self, rule: r.Rule, last_id: int, chosen: list[recompress.Online]) -> None:
        now = clock.now()
        with db.write(self.engine) as conn:
            moved = conn.execute(
                update(rules_table)
                .where(
                    rules_table.c.id == rule.id, rules_table.c.scanned_to_id == rule.scanned_to_id
                )
                .values(scanned_to_id=last_id)
            ).rowcount
            if moved != 1:
                return  # another process took this stretch (or the rule changed)
            for found in chosen:
                conn.execute(
                    insert(compression_jobs).values(
                        sop_instance_uid=found.sop_instance_uid,
                        rule_id=rule.id,
                        transfer_syntax_uid=rule.transfer_syntax_uid,
                        ratio=rule.ratio,
                        created_at=now,
                        next_attempt_at=now,
                    )
                )

    def queue_by_hand(
        self, sop_instance_uid: str, target: codecs.Target, rule_id: int | None = None
    ) -> None:
        now = clock.now()
        with db.write(self.engine) as conn:
            conn.execute(
                insert(compression_jobs).values(
                    sop_instance_uid=sop_instance_uid,
                    rule_id=rule_id,
                    transfer_syntax_uid=target.syntax,
                    ratio=target.ratio,
                    created_at=now,
                    next_attempt_at=now,
                )
            )
        self._maybe_due = True  # a job is due now: the worker looks at once, not in a minute
        self.worker.wake()

    def run_one(self) -> bool:
        """Claim one due job and carry it out; False when none is due."""
        claimed = QUEUE.claim_next(self.engine, self.owner, LEASE)
        if claimed is None:
            return False
        row = claimed.row
        target = codecs.Target(row.transfer_syntax_uid, row.ratio)
        try:
            replaced = recompress.replace(
                self.engine, self.storage, row.sop_instance_uid, lambda data: produce(data, target)
            )
        except LeftAlone as why:
            QUEUE.succeed(
                self.engine,
                row.id,
                self.owner,
                LEFT,
                outcome=str(why)[:64],
                finished_at=clock.now(),
            )
            return True
        except Exception as exc:
            log.exception("compression of %s failed", row.sop_instance_uid)
            give_up = isinstance(exc, NotLossless)
            QUEUE.fail(
                self.engine,
                row.id,
                claimed.attempt,
                self.owner,
                RETRY,
                repr(exc),
                give_up=give_up,
            )
            return True
        if replaced is None:
            QUEUE.succeed(
                self.engine,
                row.id,
                self.owner,
                LEFT,
                outcome="not online or changed",
                finished_at=clock.now(),
            )
        else:
            QUEUE.succeed(
                self.engine,
                row.id,
                self.owner,
                DONE,
                outcome="compressed",
                old_size=replaced.old_size,
                new_size=replaced.new_size,
                finished_at=clock.now(),
            )
            metrics.compression_saved(replaced.old_size, replaced.new_size)
        return True

    def counts(self) -> dict[str, int]:
        return QUEUE.counts(self.engine)

    def compress_now(self, *, study: str = "", dry_run: bool = False) -> dict[str, Any]:
        """What the rules say, now (the CLI): every rule scanned without the schedule's
        rate bound (or, with ``study``, that study's instances against every rule), then the
        due jobs run. With ``dry_run`` only what would be queued is counted."""
        if study:
            queued = self._study(study, dry_run)
        else:
            big = 1_000_000
            queued = self.scan("on_ingest", big, dry_run=dry_run)
            queued += self.scan("on_schedule", big, dry_run=dry_run)
        ran = 0
        while not dry_run and self.run_one():
            ran += 1
        return {"queued": queued, "ran": ran, "jobs": self.counts()}

    def _study(self, study: str, dry_run: bool) -> int:
        every = [x for x in r.all_rules(self.engine) if x.enabled]
        now = clock.now()
        queued = 0
        for _, found in recompress.candidates(self.engine, study_instance_uid=study, limit=100_000):
            rule = r.deciding([x for x in every if x.trigger == "on_schedule"], found, now)
            rule = rule or r.deciding([x for x in every if x.trigger == "on_ingest"], found, now)
            if rule is None or found.transfer_syntax_uid == rule.transfer_syntax_uid:
                continue
            queued += 1
            if not dry_run:
                self.queue_by_hand(found.sop_instance_uid, rule.target, rule.id)
        return queued


class NotLossless(RuntimeError):
    """A lossless encoding did not decode to the original samples: never stored."""


def produce(data: bytes, target: codecs.Target) -> tuple[bytes, str]:
    """The stored bytes re-encoded to ``target``; :class:`LeftAlone` when they must stay."""
    ds = dcmread(BytesIO(data))
    if str(ds.file_meta.TransferSyntaxUID) == target.syntax:
        raise LeftAlone("in that syntax already")
    reason = codecs.why_not(ds)
    if reason is not None:
        raise LeftAlone(reason)
    original = ds.pixel_array.copy() if not target.lossy else None
    try:
        codecs.compressed(ds, target)
    except codecs.CannotCompress as exc:
        raise LeftAlone(f"encoder: {exc}"[:64]) from None
    new = codecs.encode(ds)
    if original is not None:
        back = dcmread(BytesIO(new))
        if not (back.pixel_array.shape == original.shape and (back.pixel_array == original).all()):
            raise NotLossless(f"{target.syntax} changed the samples")
    return new, target.syntax
