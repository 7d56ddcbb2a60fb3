"""Endoscopes and their disinfection log (15.1.2): the scopes the department owns, each
reprocessing cycle (washer, cycle number, start/end, operator, passed or failed), which scope
an exam used, and the warning before capture when a scope's last cycle is missing, failed,
unfinished or older than the hospital's limit (``scope_disinfection_hours``, default 24 h).

The warning is a refusal-style catalogue code (``capture.scope.*``), not a refusal: the
station shows it and the nurse decides; the exam records the scope and the warning it got."""

from __future__ import annotations

from dataclasses import asdict, dataclass
from datetime import date, datetime, timedelta
from typing import Any

from sqlalchemy import Connection, Engine, insert, select

from core_server import auth, clock, db
from core_server.capture.tables import (
    capture_disinfections,
    capture_exam_scopes,
    capture_scopes,
)
from core_server.refusals import Conflict, Invalid, NotFound
from core_server.ris import Ris

RESULTS = ("passed", "failed")
NEVER = "capture.scope.never_disinfected"
FAILED = "capture.scope.disinfection_failed"
UNFINISHED = "capture.scope.disinfection_unfinished"
EXPIRED = "capture.scope.disinfection_expired"


@dataclass(frozen=True)
class Scope:
    id: int
    code: str
    serial: str
    model: str
    kind: str
    active: bool

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass(frozen=True)
class Disinfection:
    id: int
    scope: str  # the scope's code
    washer: str
    cycle: str
    started_at: datetime
    ended_at: datetime | None
    operator: str
    result: str
    recorded_by: str

    def as_dict(self) -> dict[str, Any]:
        return {
            **asdict(self),
            "started_at": clock.iso(self.started_at),
            "ended_at": clock.iso(self.ended_at),
        }


@dataclass(frozen=True)
class ScopeState:
    """A scope, its newest cycle and the warning it gives now (None: fit for use)."""

    scope: Scope
    last_disinfection: Disinfection | None
    warning: str | None

    def as_dict(self) -> dict[str, Any]:
        last = self.last_disinfection
        return {
            "scope": self.scope.as_dict(),
            "last_disinfection": last.as_dict() if last else None,
            "warning": self.warning,
        }


def warning_for(last: Disinfection | None, now: datetime, limit: timedelta) -> str | None:
    """Why this scope should not be used yet, or None. The age counts from the cycle's end."""
    if last is None:
        return NEVER
    if last.result != "passed":
        return FAILED
    if last.ended_at is None:
        return UNFINISHED
    if now - last.ended_at > limit:
        return EXPIRED
    return None


def _scope(row: Any) -> Scope:
    return Scope(row.id, row.code, row.serial, row.model, row.kind, bool(row.active))


def _disinfection(row: Any) -> Disinfection:
    return Disinfection(
        row.id,
        row.code,
        row.washer,
        row.cycle,
        clock.utc(row.started_at),
        clock.utc(row.ended_at) if row.ended_at is not None else None,
        row.operator,
        row.result,
        row.recorded_by,
    )


def _cycles() -> Any:
    d, s = capture_disinfections, capture_scopes
    return select(d, s.c.code).join(s, s.c.id == d.c.scope_id)


class Scopes:
    def __init__(self, engine: Engine, ris: Ris, *, limit_hours: float = 24.0) -> None:
        self.engine = engine
        self.ris = ris
        self.limit = timedelta(hours=limit_hours)

    # -- scopes ---------------------------------------------------------------------------------

    def add(self, code: str, *, serial: str = "", model: str = "", kind: str = "") -> Scope:
        code = code.strip()
        if not code:
            raise Invalid("capture.scope.code_required")
        with db.write(self.engine) as conn:
            if conn.execute(
                select(capture_scopes.c.id).where(capture_scopes.c.code == code)
            ).first():
                raise Conflict("capture.scope.exists", scope=code)
            conn.execute(
                insert(capture_scopes).values(
                    code=code,
                    serial=serial.strip(),
                    model=model.strip(),
                    kind=kind.strip(),
                    active=True,
                    created_at=clock.now(),
                )
            )
            return self._find(conn, code)

    def states(self) -> list[ScopeState]:
        """Every scope with its newest cycle and warning, by code."""
        with db.read(self.engine) as conn:
            scopes = [_scope(r) for r in conn.execute(select(capture_scopes).order_by("code"))]
            return [self._state(conn, scope) for scope in scopes]

    def state(self, code: str) -> ScopeState:
        with db.read(self.engine) as conn:
            return self._state(conn, self._find(conn, code))

    def _find(self, conn: Connection, code: str) -> Scope:
        """A scope by its ID or, as a scanner reads the maker's tag, its serial number."""
        code = code.strip()
        s = capture_scopes
        row = conn.execute(select(s).where(s.c.code == code)).first()
        if row is None and code:
            row = conn.execute(select(s).where(s.c.serial == code).order_by(s.c.id)).first()
        if row is None:
            raise NotFound("capture.scope.not_found", scope=code)
        return _scope(row)

    def _last(self, conn: Connection, scope_id: int) -> Disinfection | None:
        d = capture_disinfections
        row = conn.execute(
            _cycles().where(d.c.scope_id == scope_id).order_by(d.c.started_at.desc(), d.c.id.desc())
        ).first()
        return _disinfection(row) if row is not None else None

    def _state(self, conn: Connection, scope: Scope) -> ScopeState:
        last = self._last(conn, scope.id)
        return ScopeState(scope, last, warning_for(last, clock.now(), self.limit))

    # -- the disinfection log -------------------------------------------------------------------

    def record(
        self,
        code: str,
        *,
        started_at: datetime,
        ended_at: datetime | None,
        result: str,
        washer: str = "",
        cycle: str = "",
        operator: str = "",
        by: str = "",
    ) -> Disinfection:
        """One reprocessing cycle; a time without an offset is the hospital's wall clock."""
        if result not in RESULTS:
            raise Invalid("capture.disinfection.bad_result", result=result)
        started = clock.utc(clock.from_local(started_at))
        ended = clock.utc(clock.from_local(ended_at)) if ended_at is not None else None
        if ended is not None and ended < started:
            raise Invalid("capture.disinfection.ends_before_start")
        with db.write(self.engine) as conn:
            scope = self._find(conn, code)
            new_id = conn.execute(
                insert(capture_disinfections)
                .values(
                    scope_id=scope.id,
                    washer=washer.strip(),
                    cycle=cycle.strip(),
                    started_at=started,
                    ended_at=ended,
                    operator=operator.strip() or by,
                    result=result,
                    recorded_by=by,
                    recorded_at=clock.now(),
                )
                .returning(capture_disinfections.c.id)
            ).scalar_one()
            row = conn.execute(_cycles().where(capture_disinfections.c.id == new_id)).one()
            return _disinfection(row)

    def log(self, day: date | None = None, code: str | None = None) -> list[Disinfection]:
        """The cycles started on ``day`` (the hospital's day; default today), oldest first."""
        start, end = clock.local_day_bounds(day or clock.today())
        d = capture_disinfections
        query = _cycles().where(d.c.started_at >= start, d.c.started_at < end)
        with db.read(self.engine) as conn:
            if code:
                query = query.where(d.c.scope_id == self._find(conn, code).id)
            return [_disinfection(r) for r in conn.execute(query.order_by(d.c.started_at, d.c.id))]

    # -- the exam's scope -----------------------------------------------------------------------

    def use(self, exam_id: int, code: str, *, by: str, address: str = "") -> ScopeState:
        """Record that ``exam_id`` uses this scope (scanned or picked) with the warning it
        gives now; the exam's audit trail keeps it too."""
        self.ris.exam(exam_id)  # 404 for an unknown exam
        with db.write(self.engine) as conn:
            state = self._state(conn, self._find(conn, code))
            last = state.last_disinfection
            conn.execute(
                insert(capture_exam_scopes).values(
                    exam_id=exam_id,
                    scope_id=state.scope.id,
                    disinfection_id=last.id if last else None,
                    warning=state.warning,
                    recorded_by=by,
                    recorded_at=clock.now(),
                )
            )
            auth.record_audit(
                conn,
                username=by,
                action="capture.scope.used",
                target=f"exam:{exam_id}",
                detail={"scope": state.scope.code, "warning": state.warning},
                address=address,
            )
        return state

    def exam_scope(self, exam_id: int) -> ScopeState | None:
        """The scope the exam used last (as recorded then), or None."""
        e = capture_exam_scopes
        with db.read(self.engine) as conn:
            row = conn.execute(
                select(e, capture_scopes.c.code)
                .join(capture_scopes, capture_scopes.c.id == e.c.scope_id)
                .where(e.c.exam_id == exam_id)
                .order_by(e.c.id.desc())
            ).first()
            if row is None:
                return None
            scope = self._find(conn, row.code)
            last = None
            if row.disinfection_id is not None:
                found = conn.execute(
                    _cycles().where(capture_disinfections.c.id == row.disinfection_id)
                ).first()
                last = _disinfection(found) if found else None
            return ScopeState(scope, last, row.warning)
