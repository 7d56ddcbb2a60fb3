"""The durable outbound queue: destinations, enqueueing, claiming, and the record of each try.

Any message goes out the same way: :func:`enqueue` ("send this message to that destination")
commits a job; a :class:`~core_server.hl7.sender.Sender` in any core process claims it, sends
it over MLLP, and records the ACK, by the rules of :mod:`core_server.jobs` (claim with a lease,
back-off, dead letter, re-queue) over this adapter's own table ``hl7_outbound_jobs``. Jobs of
one destination go in the order they were queued: only the oldest unfinished job of a
destination is eligible, so a status update never overtakes an earlier one while the HIS is
down. A job that fails waits ``retry_base_seconds * 2**(attempts-1)`` (at most
``retry_max_seconds``) and becomes a dead letter after ``max_attempts`` tries, or at once when
the receiver rejects it (AR).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, fields
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import Connection, Engine, delete, func, insert, select, update
from sqlalchemy.exc import IntegrityError

from core_server import clock, db
from core_server.hl7 import charsets
from core_server.hl7.message import new_control_id, parse, timestamp
from core_server.hl7.tables import hl7_destinations as destinations
from core_server.hl7.tables import hl7_outbound_jobs as jobs
from core_server.jobs import Jobs, Retry
from core_server.refusals import Refusal

ORDER_STATUS = "order_status"  # purpose: exam status updates to the order placer
RESULTS = "results"  # purpose: reports (ORU^R01) to the order placer
CRITICAL_VALUES = "critical_values"  # purpose: critical-value alerts (ORU^R01 flagged AA)
PURPOSES = (ORDER_STATUS, RESULTS, CRITICAL_VALUES)
STATUS_MESSAGES = ("ORM", "OMI")
# The job rules over this adapter's queue; a claimed job is "sending".
QUEUE = Jobs(jobs, claimed="sending")


class OutboundError(Refusal):
    """A refused change (unknown destination or job, a setting out of range), said for the
    administrator; 422 unless the code says otherwise."""

    status = 422


@dataclass(frozen=True)
class Destination:
    name: str
    host: str
    port: int
    receiving_application: str = ""
    receiving_facility: str = ""
    charset: str = "UNICODE UTF-8"
    purposes: str = ORDER_STATUS
    status_message: str = "ORM"
    max_attempts: int = 10
    retry_base_seconds: float = 5.0
    retry_max_seconds: float = 600.0
    ack_timeout_seconds: float = 30.0
    enabled: bool = True
    tls: bool = False  # MLLP over TLS, checked against tls_ca (docs/tls.md)
    id: int | None = None

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)

    @property
    def codec(self) -> str:
        return charsets.codec_for(self.charset)

    def serves(self, purpose: str) -> bool:
        return purpose in {p.strip() for p in self.purposes.split(",")}

    @property
    def retry(self) -> Retry:
        """How long to wait after a failed try, and how many tries make a dead letter."""
        return Retry(self.retry_base_seconds, self.retry_max_seconds, self.max_attempts)


@dataclass(frozen=True)
class Job:
    id: int
    destination: str
    message_type: str
    control_id: str
    message: str
    source: str
    status: str  # pending, sending, sent, dead
    attempts: int
    next_attempt_at: datetime
    last_error: str
    ack_code: str | None
    ack: str | None
    created_at: datetime
    sent_at: datetime | None

    def as_dict(self) -> dict[str, Any]:
        out = asdict(self)
        for key in ("next_attempt_at", "created_at", "sent_at"):
            out[key] = clock.iso(out[key])
        return out


def _check(destination: Destination) -> None:
    if not destination.name or len(destination.name) > 64:
        raise OutboundError("hl7.destination.name_length")
    if not destination.host:
        raise OutboundError("hl7.destination.host_required")
    if not 0 < destination.port < 65536:
        raise OutboundError("hl7.destination.port_range")
    try:
        destination.codec  # noqa: B018  (raises for a character set we cannot write)
    except charsets.CharsetError:
        raise OutboundError("hl7.destination.charset", charset=destination.charset) from None
    purposes = [p.strip() for p in destination.purposes.split(",")]
    if not set(purposes) <= set(PURPOSES) or not any(purposes):
        raise OutboundError("hl7.destination.purposes", choices=", ".join(PURPOSES))
    if destination.status_message not in STATUS_MESSAGES:
        raise OutboundError("hl7.destination.status_message", choices=", ".join(STATUS_MESSAGES))
    if destination.max_attempts < 1:
        raise OutboundError("hl7.destination.max_attempts")
    if not 0 < destination.retry_base_seconds <= destination.retry_max_seconds:
        raise OutboundError("hl7.destination.retry_range")
    if destination.ack_timeout_seconds <= 0:
        raise OutboundError("hl7.destination.ack_timeout")


def _destination(row: Any) -> Destination:
    names = {f.name for f in fields(Destination)}
    values = {k: v for k, v in row._mapping.items() if k in names}
    values["enabled"] = bool(values["enabled"])
    values["tls"] = bool(values["tls"])
    return Destination(**values)


def list_destinations(engine: Engine) -> list[Destination]:
    with db.read(engine) as conn:
        rows = conn.execute(select(destinations).order_by(destinations.c.name))
        return [_destination(row) for row in rows]


def get_destination(engine: Engine, name: str) -> Destination:
    with db.read(engine) as conn:
        row = conn.execute(select(destinations).where(destinations.c.name == name)).first()
    if row is None:
        raise OutboundError("hl7.destination.unknown", 404, name=name)
    return _destination(row)


def add_destination(engine: Engine, destination: Destination) -> Destination:
    _check(destination)
    now = clock.now()
    values = destination.as_dict()
    values.pop("id")
    try:
        with db.write(engine) as conn:
            conn.execute(insert(destinations).values(**values, created_at=now, updated_at=now))
    except IntegrityError:
        raise OutboundError("hl7.destination.exists", 409, name=destination.name) from None
    return get_destination(engine, destination.name)


def update_destination(engine: Engine, name: str, **changes: Any) -> Destination:
    current = get_destination(engine, name)
    changed = Destination(**{**current.as_dict(), **changes})
    _check(changed)
    values = changed.as_dict()
    values.pop("id")
    try:
        with db.write(engine) as conn:
            conn.execute(
                update(destinations)
                .where(destinations.c.id == current.id)
                .values(**values, updated_at=clock.now())
            )
    except IntegrityError:
        raise OutboundError("hl7.destination.exists", 409, name=changed.name) from None
    return get_destination(engine, changed.name)


def remove_destination(engine: Engine, name: str) -> None:
    """Remove a destination and its sent and dead jobs; refused while jobs wait to go."""
    current = get_destination(engine, name)
    with db.write(engine) as conn:
        waiting = conn.execute(
            select(func.count())
            .select_from(jobs)
            .where(jobs.c.destination_fk == current.id, jobs.c.status.in_(["pending", "sending"]))
        ).scalar_one()
        if waiting:
            raise OutboundError("hl7.destination.busy", 409, name=name, waiting=waiting)
        conn.execute(delete(destinations).where(destinations.c.id == current.id))


def prepare(message: str, destination: Destination) -> tuple[str, str, str]:
    """The message addressed to the destination: MSH-5/6 filled from it when empty, MSH-7 and
    MSH-10 when empty, MSH-18 set to the character set it is sent in (named as the message's
    version names it: ``UNICODE`` before v2.5, ``UNICODE UTF-8`` after). Returns (message,
    message type, control ID)."""
    parsed = parse(message)
    msh = parsed.segment("MSH")
    while len(msh) <= 18:
        msh.append(parsed.create_field([""]))
    for number, default in (
        (5, destination.receiving_application),
        (6, destination.receiving_facility),
        (7, timestamp()),
        (10, new_control_id()),
    ):
        if not str(msh(number)):
            msh.assign_field(default, number)
    version = str(msh(12)).split("^")[0]  # MSH-18 in the words of the message's version
    named = charsets.MSH18_NAMES.get(destination.codec, destination.charset)
    msh.assign_field(charsets.msh18_name(destination.codec, version, named), 18)
    code, event = parsed["MSH.F9.R1.C1"], parsed["MSH.F9.R1.C2"]
    kind = f"{code}^{event}" if event else str(code)
    return str(parsed), kind[:16], str(msh(10))[:64]


def enqueue(
    engine: Engine | Connection, destination: str, message: str, *, source: str = ""
) -> int:
    """Queue ``message`` (an HL7 v2 message as text) for ``destination`` (by name); returns the
    job id. Given a ``Connection`` it joins that transaction."""
    if isinstance(engine, Connection):
        return _enqueue(engine, destination, message, source)
    with db.write(engine) as conn:
        return _enqueue(conn, destination, message, source)


def _enqueue(conn: Connection, name: str, message: str, source: str) -> int:
    row = conn.execute(select(destinations).where(destinations.c.name == name)).first()
    if row is None:
        raise OutboundError("hl7.destination.unknown", 404, name=name)
    destination = _destination(row)
    text, kind, control_id = prepare(message, destination)
    text.encode(destination.codec)  # a message the destination's charset cannot carry fails now
    now = clock.now()
    key = conn.execute(
        insert(jobs).values(
            destination_fk=destination.id,
            message_type=kind,
            control_id=control_id,
            message=text,
            source=source[:64],
            status="pending",
            next_attempt_at=now,
            created_at=now,
        )
    ).inserted_primary_key
    assert key is not None
    return int(key[0])


# -- the sender's side ------------------------------------------------------------------------


@dataclass(frozen=True)
class Claimed:
    job_id: int
    attempt: int
    control_id: str
    message: bytes
    destination: Destination


def due_heads(engine: Engine) -> list[int]:
    """The oldest unfinished job of every enabled destination, when it may be tried now."""
    with db.read(engine) as conn:
        oldest = (
            select(func.min(jobs.c.id))
            .where(jobs.c.status.in_(["pending", "sending"]))
            .group_by(jobs.c.destination_fk)
        )
        rows = conn.execute(
            select(jobs.c.id)
            .join(destinations, destinations.c.id == jobs.c.destination_fk)
            .where(jobs.c.id.in_(oldest), destinations.c.enabled, QUEUE.claimable(clock.now()))
            .order_by(jobs.c.id)
        )
        return [row.id for row in rows]


def claim(engine: Engine, job_id: int, owner: str) -> Claimed | None:
    """Take the job for one try, or None when another sender has it (or it is not due)."""
    with db.write(engine) as conn:
        row = conn.execute(select(jobs).where(jobs.c.id == job_id)).first()
        if row is None:
            return None
        destination = _destination(
            conn.execute(select(destinations).where(destinations.c.id == row.destination_fk)).one()
        )
        lease = timedelta(seconds=destination.ack_timeout_seconds * 2 + 30)
        if not QUEUE.claim(conn, job_id, owner, lease, row.attempts):
            return None
        return Claimed(
            job_id=job_id,
            attempt=row.attempts + 1,
            control_id=row.control_id,
            message=row.message.encode(destination.codec, "replace"),
            destination=destination,
        )


def finish(
    engine: Engine,
    claimed: Claimed,
    owner: str,
    *,
    ack_code: str | None,
    ack: str | None,
    error: str = "",
) -> str:
    """Record a try: sent (AA/CA), dead (AR/CR, or out of attempts), else pending again with
    its back-off. Only the claim's owner may record it. Returns the job's new status."""
    answer = {"ack_code": ack_code, "ack": ack}
    if ack_code in ("AA", "CA"):
        QUEUE.succeed(engine, claimed.job_id, owner, "sent", sent_at=clock.now(), **answer)
        return "sent"
    return QUEUE.fail(
        engine,
        claimed.job_id,
        claimed.attempt,
        owner,
        claimed.destination.retry,
        error,
        give_up=ack_code in ("AR", "CR"),  # refused for good: sending it again changes nothing
        **answer,
    )


def release_gone(engine: Engine) -> int:
    """Jobs a sender of a stopped process was sending: due again at once (at start)."""
    return QUEUE.release_gone(engine)


# -- administration ---------------------------------------------------------------------------


def list_jobs(
    engine: Engine,
    *,
    status: str | list[str] = "",
    destination: str = "",
    limit: int = 100,
    offset: int = 0,
) -> list[Job]:
    query = (
        select(jobs, destinations.c.name.label("destination_name"))
        .join(destinations, destinations.c.id == jobs.c.destination_fk)
        .order_by(jobs.c.id.desc())
        .limit(limit)
        .offset(offset)
    )
    if status:
        query = query.where(jobs.c.status.in_([status] if isinstance(status, str) else status))
    if destination:
        query = query.where(destinations.c.name == destination)
    with db.read(engine) as conn:
        return [_job(row) for row in conn.execute(query)]


def count_jobs(engine: Engine) -> dict[str, int]:
    """How many jobs are in each status."""
    return QUEUE.counts(engine)


def get_job(engine: Engine, job_id: int) -> Job:
    with db.read(engine) as conn:
        row = conn.execute(
            select(jobs, destinations.c.name.label("destination_name"))
            .join(destinations, destinations.c.id == jobs.c.destination_fk)
            .where(jobs.c.id == job_id)
        ).first()
    if row is None:
        raise OutboundError("hl7.job.unknown", 404, id=job_id)
    return _job(row)


def retry(engine: Engine, job_id: int) -> Job:
    """Send a dead letter again (attempts start over), or a waiting job now."""
    if not QUEUE.requeue(engine, job_id):
        get_job(engine, job_id)  # raises for an unknown job
        raise OutboundError("hl7.job.not_retryable", 409, id=job_id)
    return get_job(engine, job_id)


def _job(row: Any) -> Job:
    return Job(
        id=row.id,
        destination=row.destination_name,
        message_type=row.message_type,
        control_id=row.control_id,
        message=row.message,
        source=row.source,
        status=row.status,
        attempts=row.attempts,
        next_attempt_at=row.next_attempt_at,
        last_error=row.last_error,
        ack_code=row.ack_code,
        ack=row.ack,
        created_at=row.created_at,
        sent_at=row.sent_at,
    )
