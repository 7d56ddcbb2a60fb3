"""The rules' runner (docs/storage-rules.md): one background round every ``interval`` seconds
that

1. makes the ``land`` rules' tasks for objects just stored (urgent: done at once),
2. in the idle hours (or after "run now") evaluates every enabled rule into tasks, every
   :data:`EVALUATE_SECONDS`,
3. runs the prefetch of tomorrow's priors once a day at ``prefetch_at``,
4. does due tasks, urgent ones at any hour and the rest only in the idle hours, at the
   settings' MB/s and objects/s, stopping while the archive stores more than
   ``busy_per_minute`` objects a minute.

Several core processes may run it: tasks are claimed one by one (:mod:`core_server.jobs`),
the prefetch day is taken by one process (:func:`schedule.claim_prefetch_day`).
"""

from __future__ import annotations

import logging
import threading
import time
from datetime import date, timedelta
from typing import Any

from sqlalchemy import Engine, insert, update
from sqlalchemy.exc import IntegrityError

from core_server import clock, db, jobs, metrics
from core_server.archive import Archive
from core_server.events import EventBus
from core_server.periodic import Periodic
from core_server.storage.tiers import prefetch, rules, rules_select, runner_tasks, schedule
from core_server.storage.tiers.rules import Rule
from core_server.storage.tiers.rules_tables import storage_study_reads as reads

log = logging.getLogger(__name__)
EVALUATE_SECONDS = 600.0
READ_NOTED_EVERY = 3600.0  # a study's last-read time is written at most once an hour
MAX_LANDED = 10_000  # objects waiting for the land rules (more: the evaluation finds them)
RETRIEVED = "archive.retrieved"  # {"study_instance_uids": [...]} when one is read
RECALLED = "archive.recall"


class RulesRunner:
    def __init__(
        self,
        engine: Engine,
        archive: Archive,
        bus: EventBus,
        *,
        usage: rules_select.Usage | None = None,
        interval: float = 30.0,
    ) -> None:
        self.engine = engine
        self.archive = archive
        self.registry = archive.areas
        self.bus = bus
        self.usage = usage or rules_select.disk_usage(archive.storage.root)
        self.meter = schedule.IngestMeter()
        self.owner = jobs.this_process()
        self.paused_for_ingest = False
        self.last_prefetch: prefetch.Prefetched | None = None
        self._stop = threading.Event()
        self._lock = threading.Lock()
        self._landed: set[str] = set()
        self._has_land = False
        self._evaluated_at = -1e12
        self._reads: dict[str, float] = {}
        self._ticker = Periodic("storage-rules", interval, self.round, at_start=True)

    # -- wiring --------------------------------------------------------------------------------

    def subscribe(self) -> None:
        self.bus.subscribe("archive.instance_stored", self.on_stored)
        self.bus.subscribe(RECALLED, self.on_read)
        self.bus.subscribe(RETRIEVED, self.on_read)

    def start(self) -> None:
        metrics.count_at_scrape(
            metrics.STORAGE_RULE_TASKS,
            runner_tasks.STATES,
            lambda: runner_tasks.counts(self.engine),
        )
        released = runner_tasks.QUEUE.release_gone(self.engine)
        if released:
            log.warning("storage rules: %d task(s) a stopped core held are due again", released)
        self._has_land = any(r.action == "land" for r in rules.listing(self.engine))
        self._stop.clear()
        self._ticker.start()

    def stop(self) -> None:
        self._stop.set()
        self._ticker.stop()

    def on_stored(self, _topic: str, payload: dict[str, Any]) -> None:
        """Count it for the ingest meter; note it for the land rules (no work in the
        storing thread)."""
        self.meter.note()
        if self._has_land and payload.get("sop_instance_uid"):
            with self._lock:
                if len(self._landed) < MAX_LANDED:
                    self._landed.add(str(payload["sop_instance_uid"]))
            self._ticker.wake()

    def on_read(self, _topic: str, payload: dict[str, Any]) -> None:
        uids = payload.get("study_instance_uids") or [payload.get("study_instance_uid")]
        self.note_read([str(u) for u in uids if u])

    def note_read(self, study_uids: list[str]) -> None:
        """When the studies were last read (a cheap write: once an hour per study)."""
        now, mono = clock.now(), time.monotonic()
        fresh = [u for u in study_uids if mono - self._reads.get(u, -1e12) > READ_NOTED_EVERY]
        for uid in fresh:
            self._reads[uid] = mono
            with db.write(self.engine, durable=False) as conn:
                changed = conn.execute(
                    update(reads).where(reads.c.study_instance_uid == uid).values(read_at=now)
                ).rowcount
            if not changed:
                try:
                    with db.write(self.engine, durable=False) as conn:
                        conn.execute(insert(reads).values(study_instance_uid=uid, read_at=now))
                except IntegrityError:
                    pass  # another process noted it meanwhile

    # -- rounds --------------------------------------------------------------------------------

    def in_window(self, settings: schedule.RunnerSettings) -> bool:
        now = clock.now()
        if settings.run_now_until is not None and settings.run_now_until > now:
            return True
        return schedule.in_window(settings.idle_start, settings.idle_end, now)

    def round(self) -> None:
        settings = schedule.load(self.engine)
        self.land()
        window = self.in_window(settings)
        if window and time.monotonic() - self._evaluated_at > EVALUATE_SECONDS:
            self.evaluate()
        self.prefetch_if_due(settings)
        self.run_due(settings, urgent_only=not window)
        if settings.run_now_until is not None and not runner_tasks.counts(self.engine)["pending"]:
            schedule.set_run_now(self.engine, None)

    def land(self) -> int:
        with self._lock:
            batch, self._landed = list(self._landed), set()
        if not batch:
            return 0
        made = 0
        for rule in rules.listing(self.engine, enabled_only=True):
            if rule.action == "land":
                made += runner_tasks.make(self.engine, rule, self.usage, only=batch, urgent=True)
        return made

    def evaluate(self) -> dict[int, int]:
        """Tasks for what every enabled rule selects now; how many per rule."""
        self._evaluated_at = time.monotonic()
        made: dict[int, int] = {}
        found = rules.listing(self.engine, enabled_only=True)
        self._has_land = any(r.action == "land" for r in found)
        for rule in found:
            try:
                made[rule.id or 0] = runner_tasks.make(
                    self.engine, rule, self.usage, urgent=rule.action == "land"
                )
            except Exception:  # one rule's fault (its area gone) leaves the others running
                log.exception("storage rule %s (%s) could not be evaluated", rule.id, rule.name)
        return made

    def run_due(self, settings: schedule.RunnerSettings, *, urgent_only: bool) -> int:
        """Do due tasks at the settings' rates until none is left, the window closes or
        ingest gets busy; how many were done."""
        throttle = schedule.Throttle(settings.max_mb_per_second, settings.max_objects_per_second)
        done = 0
        while not self._stop.is_set():
            if self.meter.per_minute() > settings.busy_per_minute:
                self.paused_for_ingest = True
                return done
            self.paused_for_ingest = False
            if not urgent_only and not self.in_window(settings):
                urgent_only = True  # the idle hours ended during the run
            row = runner_tasks.run_one(
                self.engine, self.registry, self.owner, urgent_only=urgent_only
            )
            if row is None:
                return done
            done += 1
            throttle.wait(int(row.size or 0), self._stop)
        return done

    def run_now(self) -> dict[int, int]:
        """The admin's "run now": the idle hours lifted for a while, the rules evaluated."""
        schedule.set_run_now(self.engine, clock.now() + schedule.RUN_NOW_FOR)
        made = self.evaluate()
        self._ticker.wake()
        return made

    # -- prefetch ------------------------------------------------------------------------------

    def prefetch_if_due(self, settings: schedule.RunnerSettings) -> None:
        if not settings.prefetch_enabled:
            return
        now = clock.local()
        if now.strftime("%H:%M") < settings.prefetch_at:
            return
        today = now.date().isoformat()
        if settings.prefetch_last_day == today or not schedule.claim_prefetch_day(
            self.engine, today
        ):
            return
        self.prefetch(now.date() + timedelta(days=1), settings.prefetch_per_patient)

    def prefetch(self, day: date, per_patient: int | None = None) -> prefetch.Prefetched:
        if per_patient is None:
            per_patient = schedule.load(self.engine).prefetch_per_patient
        self.last_prefetch = prefetch.prefetch(self.archive, day, per_patient)
        log.info("prefetch for %s: %s", day, self.last_prefetch)
        return self.last_prefetch

    # -- what the pages show -------------------------------------------------------------------

    def dry_run(self, rule: Rule, first: int = 20) -> rules_select.DryRun:
        with db.read(self.engine) as conn:
            return rules_select.dry_run(conn, rule, self.usage, first)

    def status(self) -> dict[str, Any]:
        settings = schedule.load(self.engine)
        used, total = self.usage()
        return {
            "settings": settings.as_json(),
            "in_window": self.in_window(settings),
            "paused_for_ingest": self.paused_for_ingest,
            "ingest_per_minute": self.meter.per_minute(),
            "tasks": runner_tasks.counts(self.engine),
            "pending_bytes": runner_tasks.pending_bytes(self.engine),
            "online_used_percent": round(100.0 * used / total, 1) if total else 0.0,
            "last_prefetch": self.last_prefetch.as_json() if self.last_prefetch else None,
        }

    def wake(self) -> None:
        self._ticker.wake()

    def rules_changed(self) -> None:
        self._has_land = any(r.action == "land" for r in rules.listing(self.engine))
        self._evaluated_at = -1e12  # the next round in the window evaluates again


def install_rules(lifecycle: Any, parts: Any) -> RulesRunner:
    """Build the rules' runner on ``lifecycle.rules`` (web routes: :func:`of`), subscribed to
    the bus, started and stopped with the web app."""
    service = RulesRunner(parts.engine, parts.archive, parts.bus)
    service.subscribe()
    lifecycle.rules = service
    parts.on_startup.append(service.start)
    parts.on_shutdown.append(service.stop)
    return service
