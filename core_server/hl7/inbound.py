"""Receiving one inbound message: store it, apply it, record and return its acknowledgement.

The order is what makes an ACK trustworthy: the raw bytes are committed first, then the
message is applied (through the mapping, to the RIS), then the ACK is committed beside it and
only then sent. A message resent with the same sender and control ID (MSH-3, MSH-4, MSH-10) is
answered with the ACK recorded the first time and not applied again. A message whose
application failed for an internal reason (database down, a bug) keeps no ACK, so the HIS's
resend is applied afresh.

A message is taken only from a sender the allow-list admits (:mod:`.senders`); others get AR
and only their header is logged. While a message is applied its row is claimed by this
process (``claimed_by``): a resend meanwhile gets AE 206 "being processed"; a core that
restarts after a crash releases the claims of its dead predecessor at once
(:meth:`Receiver.release_gone`), so the sender's retry is applied rather than told to wait
for the lease (5 minutes) to run out. On PostgreSQL the applying process also holds the
message's cluster lock: a resend to another node that finds it free takes the message over at
once (its applier died with its database session), wherever that applier ran.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import hl7
from sqlalchemy import Engine, and_, insert, or_, select, true, update
from sqlalchemy.exc import IntegrityError

from core_server import clock, cluster, db, jobs
from core_server.hl7 import charsets, senders
from core_server.hl7.ack import build_ack, order_echoes
from core_server.hl7.errors import MessageError
from core_server.hl7.message import SUPPORTED_VERSIONS, Header, header, parse, tolerant_header
from core_server.hl7.tables import hl7_inbound_messages as inbound

log = logging.getLogger(__name__)

# Applies a parsed message; returns a short note for the log ("" if none) or raises
# MessageError.
Apply = Callable[[hl7.Message, Header], str]

_STATUS = {"AA": "accepted", "AE": "error", "AR": "rejected"}
# How long a message may be "processing" before a resend may take it over (its processor
# died). Applying one can take long: an A08 rewrites every stored image of the patient.
PROCESSING_LEASE = timedelta(minutes=5)
# _store's answer for a message another connection (or process) is applying right now.
_BUSY = b""
# A message being applied is a claim (status "processing", claimed_by): a dead applier's is
# released as failed, by the take-over of any node (core_server.jobs.claims).
CLAIMS = jobs.Claims(
    inbound,
    "processing",
    lambda now: {
        "status": "failed",
        "error": "the core stopped while applying it; a resend applies it again",
        "processed_at": now,
    },
)


def _claim(conn: Any, row_id: int, states: tuple[str, ...], holder_gone: bool = False) -> bool:
    """Take a stored message for processing: one connection or process at a time
    (``holder_gone``: the message's cluster lock was free, so whoever claimed it died)."""
    now = clock.now()
    over = inbound.c.processed_at < now - PROCESSING_LEASE
    return bool(
        conn.execute(
            update(inbound)
            .where(
                inbound.c.id == row_id,
                or_(
                    inbound.c.status.in_(states),
                    and_(inbound.c.status == "processing", true() if holder_gone else over),
                ),
            )
            .values(status="processing", processed_at=now, claimed_by=jobs.this_process())
        ).rowcount
    )


def _header_problem(head: Header) -> MessageError | None:
    """What is wrong with a readable MSH, if anything."""
    version = head.version.split("^")[0].strip()
    if not head.control_id:
        return MessageError("AR", "101", "MSH-10 (message control ID) is empty", "MSH^1^10")
    if not head.message_code:
        return MessageError("AR", "101", "MSH-9 (message type) is empty", "MSH^1^9")
    if not version:
        return MessageError("AR", "101", "MSH-12 (version ID) is empty", "MSH^1^12")
    if version not in SUPPORTED_VERSIONS:
        return MessageError(
            "AR",
            "203",
            f"unsupported HL7 version {version} (MSH-12); supported: "
            + ", ".join(SUPPORTED_VERSIONS),
            "MSH^1^12",
        )
    return None


@dataclass
class _Received:
    raw: bytes
    peer: str
    text: str | None = None
    codec: str = "utf-8"
    message: hl7.Message | None = None
    header: Header | None = None
    problem: MessageError | None = None
    retried: bool = False  # an earlier try of this message ended without an answer


class Receiver:
    """Turns the bytes of one MLLP block into the bytes of its ACK."""

    def __init__(
        self,
        engine: Engine,
        apply: Apply,
        application: str,
        processing_ids: Iterable[str] = ("P",),
    ) -> None:
        self.engine = engine
        self.apply = apply
        self.application = application
        # MSH-11.1 of the messages applied to the RIS (P production; T training, D debugging
        # come from a HIS's test system pointed at us by mistake, or on purpose during setup).
        self.processing_ids = frozenset(p.strip().upper() for p in processing_ids if p.strip())

    def handle(self, raw: bytes, peer: str = "") -> bytes:
        received = self._read(raw, peer)
        if not self._admitted(received):
            return self._refuse(received)
        head = received.header
        if head is None or not head.control_id:
            return self._handle(received, peer, holder_gone=False)
        # While a node applies a message it holds the message's cluster lock (PostgreSQL): a
        # resend that finds the lock free and the message "processing" takes it over at once,
        # its holder having died, instead of waiting out the lease.
        name = f"hl7-inbound:{head.sending_application}|{head.sending_facility}|{head.control_id}"
        with cluster.try_held(self.engine, name) as taken:
            return self._handle(received, peer, holder_gone=taken is True)

    def _handle(self, received: _Received, peer: str, *, holder_gone: bool) -> bytes:
        try:
            row_id, recorded_ack = self._store(received, holder_gone)
        except Exception:
            log.exception("HL7 message from %s could not be stored; answered AE", peer)
            unstored = MessageError("AE", "207", "the message could not be stored; send it again")
            return self._encode(self._ack(received, "AE", unstored), received.codec)
        if recorded_ack == _BUSY:
            busy = MessageError(
                "AE", "206", "the same message is being processed now; send it again later"
            )
            return self._encode(self._ack(received, "AE", busy), received.codec)
        if recorded_ack is not None:
            log.info("HL7 duplicate %s from %s answered again", received.header, peer)
            return recorded_ack
        ack_code, problem, final = self._apply(received)
        duplicate = problem is not None and (problem.ack_code, problem.code) == ("AE", "205")
        if received.retried and duplicate:
            # "Duplicate key" to a resend of this very message that was never answered: its
            # earlier try (a core killed after applying it, before recording the ACK) made
            # the record. The HIS is owed the AA it did not get.
            log.info("HL7 %s: applied by its unanswered earlier try", received.header)
            ack_code, problem = "AA", None
        ack = self._ack(received, ack_code, problem)
        try:
            self._record(row_id, ack_code, ack if final else None, problem)
        except Exception:
            log.exception("HL7 message %s: ACK could not be recorded; answered AE", row_id)
            problem = MessageError("AE", "207", "the result could not be recorded; send it again")
            ack = self._ack(received, "AE", problem)
        return self._encode(ack, received.codec)

    def reprocess(self, message_id: int) -> str | None:
        """Apply a stored message again, by the administrator's hand, after what made it fail
        was put right (an exam item added to the catalogue, a database back): only messages
        that were not applied (AE or an internal failure) qualify. Its recorded ACK becomes
        the new outcome, which a resend by the HIS will receive. Returns the new status, or
        None when the message is unknown or was applied already."""
        with db.write(self.engine) as conn:
            row = conn.execute(
                select(inbound.c.raw, inbound.c.peer).where(inbound.c.id == message_id)
            ).first()
            if row is None or not _claim(conn, message_id, ("error", "failed", "received")):
                return None
        received = self._read(bytes(row.raw), row.peer)
        ack_code, problem, final = self._apply(received)
        ack = self._ack(received, ack_code, problem)
        self._record(message_id, ack_code, ack if final else None, problem)
        return _STATUS[ack_code] if final else "failed"

    def release_gone(self) -> int:
        """Messages a stopped process was applying when it died: failed (no ACK was sent,
        none is kept), so the sender's resend is applied afresh. Run at start; any node's
        take-over does the same for a process the database knows is dead (jobs.takeover)."""
        gone = CLAIMS.release_gone(self.engine)
        if gone:
            log.warning("HL7: %d message(s) a stopped core was applying released", gone)
        return gone

    def _admitted(self, received: _Received) -> bool:
        head = received.header
        return senders.allows(
            senders.list_senders(self.engine),
            senders.peer_address(received.peer),
            head.sending_application if head else "",
            head.sending_facility if head else "",
        )

    def _refuse(self, received: _Received) -> bytes:
        """AR for a sender not on the allow-list; its header logged, nothing of its content."""
        head = received.header
        who = f"{head.sending_application}@{head.sending_facility}" if head else "?"
        log.warning(
            "HL7 message %s from %s (%s) refused: not an allowed sender",
            head.control_id if head else "",
            received.peer,
            who,
        )
        problem = MessageError(
            "AR",
            "207",
            f"sender {senders.peer_address(received.peer)} ({who}) is not allowed on this "
            "listener: the administrator adds it on the HL7 page",
        )
        try:
            with db.write(self.engine) as conn:
                conn.execute(
                    insert(inbound).values(
                        received_at=clock.now(),
                        peer=received.peer[:64],
                        sending_application=head.sending_application[:180] if head else "",
                        sending_facility=head.sending_facility[:180] if head else "",
                        control_id=None,  # a later message under this ID, once allowed, is new
                        message_type=head.message_type[:16] if head else "",
                        charset=received.codec,
                        raw=b"",
                        status="refused",
                        ack_code="AR",
                        error=problem.text,
                        processed_at=clock.now(),
                    )
                )
        except Exception:
            log.exception("HL7 refused message from %s could not be logged", received.peer)
        return self._encode(self._ack(received, "AR", problem), received.codec)

    def reject(self, reason: str) -> bytes:
        """The AR for bytes that were not even an MLLP block (nothing to store)."""
        problem = MessageError("AR", "100", reason)
        return self._encode(build_ack(None, "AR", problem, application=self.application), "ascii")

    def _read(self, raw: bytes, peer: str) -> _Received:
        received = _Received(raw=raw, peer=peer)
        try:
            received.text, received.codec = charsets.decode(raw)
        except charsets.CharsetError as exc:
            code = "103" if "unsupported" in str(exc) else "102"
            received.problem = MessageError("AR", code, str(exc), "MSH^1^18")
            # The header is ASCII: read it from the bytes so that the AR still names the
            # message (MSA-2) and goes back to its sender (MSH-5/6), in its version.
            received.header = tolerant_header(raw)
            try:  # answered in the character set it named, if we know it, else in ASCII
                received.codec = charsets.codec_for(charsets.declared_charset(raw))
            except charsets.CharsetError:
                received.codec = "ascii"
            return received
        try:
            received.message = parse(received.text)
            received.header = header(received.message)
        except MessageError as exc:
            received.problem = exc
            received.header = tolerant_header(raw)
            return received
        received.problem = _header_problem(received.header)
        return received

    def _store(self, received: _Received, holder_gone: bool = False) -> tuple[int, bytes | None]:
        """The row of this message (new, or the earlier one of a resend), claimed for
        processing; for a resend already answered, the ACK bytes recorded then; ``_BUSY``
        when the same message is being processed (by another connection or process)."""
        head = received.header
        values: dict[str, Any] = {
            "received_at": clock.now(),
            "peer": received.peer[:64],
            "sending_application": head.sending_application[:180] if head else "",
            "sending_facility": head.sending_facility[:180] if head else "",
            "control_id": (head.control_id[:64] or None) if head else None,
            "message_type": head.message_type[:16] if head else "",
            "charset": received.codec,
            "raw": received.raw,
            "text": received.text,
            "status": "processing",
            "processed_at": clock.now(),  # while processing: when it was claimed
            "claimed_by": jobs.this_process(),
        }
        for attempt in (1, 2):
            try:
                with db.write(self.engine) as conn:
                    if values["control_id"] is not None:
                        earlier = conn.execute(
                            select(inbound.c.id, inbound.c.ack, inbound.c.charset).where(
                                inbound.c.sending_application == values["sending_application"],
                                inbound.c.sending_facility == values["sending_facility"],
                                inbound.c.control_id == values["control_id"],
                            )
                        ).first()
                        if earlier is not None:
                            conn.execute(
                                update(inbound)
                                .where(inbound.c.id == earlier.id)
                                .values(duplicates=inbound.c.duplicates + 1)
                            )
                            if earlier.ack is not None:
                                return earlier.id, self._encode(earlier.ack, earlier.charset)
                            if not _claim(conn, earlier.id, ("received", "failed"), holder_gone):
                                return earlier.id, _BUSY
                            received.retried = True
                            return earlier.id, None
                    row_id = conn.execute(insert(inbound).values(values)).inserted_primary_key
                    assert row_id is not None
                    return int(row_id[0]), None
            except IntegrityError:
                # Another process stored the same message between our look-up and insert.
                if attempt == 2:
                    raise
        raise AssertionError("unreachable")

    def _apply(self, received: _Received) -> tuple[str, MessageError | None, bool]:
        """(ACK code, what was wrong, is this answer final)."""
        if received.problem is not None:
            return received.problem.ack_code, received.problem, True
        assert received.message is not None and received.header is not None
        processing_id = received.header.processing_id.split("^")[0].strip().upper() or "P"
        if processing_id not in self.processing_ids:
            # Logged and acknowledged (the sender must not resend it for ever), not applied.
            log.warning(
                "HL7 %s from %s: processing ID %s, logged and not applied",
                received.header.control_id,
                received.header.sending_application,
                processing_id,
            )
            warning = MessageError(
                "AA",
                "202",
                f"processing ID {processing_id}: logged, not applied (applied: "
                f"{', '.join(sorted(self.processing_ids))})",
                "MSH^1^11",
            )
            return "AA", warning, True
        try:
            note = self.apply(received.message, received.header)
        except MessageError as exc:
            log.info("HL7 %s refused: %s %s", received.header.control_id, exc.ack_code, exc)
            return exc.ack_code, exc, True
        except Exception as exc:
            log.exception("HL7 %s failed", received.header.control_id)
            problem = MessageError("AE", "207", f"internal error: {type(exc).__name__}")
            return "AE", problem, False
        if note:
            log.info("HL7 %s applied: %s", received.header.control_id, note)
        return "AA", None, True

    def _record(self, row_id: int, ack_code: str, ack: str | None, problem: Any) -> None:
        status = _STATUS[ack_code] if ack is not None else "failed"
        with db.write(self.engine) as conn:
            conn.execute(
                update(inbound)
                .where(inbound.c.id == row_id)
                .values(
                    status=status,
                    ack_code=ack_code,
                    ack=ack,
                    error=problem.text if problem else "",
                    processed_at=clock.now(),
                )
            )

    def _ack(self, received: _Received, code: str, problem: MessageError | None) -> str:
        return build_ack(
            received.header,
            code,
            problem,
            application=self.application,
            charset=received.header.charset if received.header else "",
            codec=received.codec,
            # an ORM/OMI's answer repeats each of its orders
            orders=order_echoes(received.message) if received.message is not None else None,
        )

    @staticmethod
    def _encode(ack: str, codec: str) -> bytes:
        return ack.encode(codec, "replace")


# -- administration ---------------------------------------------------------------------------


@dataclass(frozen=True)
class InboundMessage:
    id: int
    received_at: datetime
    peer: str
    sending_application: str
    sending_facility: str
    control_id: str | None
    message_type: str
    charset: str
    status: str  # processing, accepted, error, rejected, failed, refused (sender not allowed)
    ack_code: str | None
    error: str
    processed_at: datetime | None
    duplicates: int
    text: str | None = None  # the message (decoded), in the detail view only
    ack: str | None = None

    def as_dict(self) -> dict[str, Any]:
        out = dict(self.__dict__)
        for key in ("received_at", "processed_at"):
            out[key] = clock.iso(out[key])
        return out


def _message(row: Any, detail: bool) -> InboundMessage:
    return InboundMessage(
        id=row.id,
        received_at=row.received_at,
        peer=row.peer,
        sending_application=row.sending_application,
        sending_facility=row.sending_facility,
        control_id=row.control_id,
        message_type=row.message_type,
        charset=row.charset,
        status=row.status,
        ack_code=row.ack_code,
        error=row.error,
        processed_at=row.processed_at,
        duplicates=row.duplicates,
        text=(row.text if row.text is not None else repr(bytes(row.raw))) if detail else None,
        ack=row.ack if detail else None,
    )


_SUMMARY = [c for c in inbound.c if c.name not in ("raw", "text", "ack", "claimed_by")]


def list_messages(
    engine: Engine,
    *,
    status: str = "",
    message_type: str = "",
    control_id: str = "",
    limit: int = 100,
    offset: int = 0,
) -> list[InboundMessage]:
    """The newest messages first, without their text."""
    query = select(*_SUMMARY).order_by(inbound.c.id.desc()).limit(limit).offset(offset)
    if status:
        query = query.where(inbound.c.status == status)
    if message_type:
        query = query.where(db.starts_with(inbound.c.message_type, message_type.upper()))
    if control_id:
        query = query.where(inbound.c.control_id == control_id)
    with db.read(engine) as conn:
        return [_message(row, False) for row in conn.execute(query)]


def get_message(engine: Engine, message_id: int) -> InboundMessage | None:
    with db.read(engine) as conn:
        row = conn.execute(select(inbound).where(inbound.c.id == message_id)).first()
    return _message(row, True) if row is not None else None
