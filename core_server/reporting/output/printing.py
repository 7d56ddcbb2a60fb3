"""Printing signed reports, with its log and the reprint permission.

The first print of a signed version is open to the report's department (registrar,
technician, doctors, administrator); printing it again (补打) needs the reprint permission,
which administrators have and give to named users (``report_reprint_grants``). Every print and
every refused reprint is in the print log / audit trail.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import Engine, and_, delete, func, insert, select
from sqlalchemy.engine import Row

from core_server import clock, db
from core_server.auth import User, get_user, record_audit
from core_server.reporting.models import Forbidden, NotFound, ReportingError
from core_server.reporting.output import source
from core_server.reporting.output.models import (
    MAX_COPIES,
    PRINT_FETCH_WINDOW,
    PRINT_ROLES,
    REPRINT_ROLES,
    PrintRecord,
    ReprintGrant,
    print_note,
)
from core_server.reporting.output.tables import report_print_log as prints
from core_server.reporting.output.tables import report_reprint_grants as grants
from core_server.ris import Ris


class Printing:
    """The printing half of :class:`~core_server.reporting.output.ReportOutput`."""

    engine: Engine
    ris: Ris | None

    # Rendering, given by ReportOutput.
    def render(
        self, signed: source.SignedReport, *, copy_note: str = "", base_url: str = ""
    ) -> bytes:
        raise NotImplementedError

    def may_reprint(self, user: User) -> bool:
        if user.role in REPRINT_ROLES:
            return True
        with db.read(self.engine) as conn:
            found = conn.execute(
                select(grants.c.username).where(grants.c.username == user.username)
            ).first()
        return found is not None

    def print_report(
        self,
        report_id: int,
        user: User,
        *,
        copies: int = 1,
        reason: str = "",
        address: str = "",
        base_url: str = "",
        render: bool = True,
    ) -> tuple[bytes, PrintRecord]:
        """The official print of the newest signed version, logged; a second print of the same
        version is a reprint and needs the permission (and a reason). With ``render`` False
        only the log entry is made (the PDF then comes from :meth:`printed_pdf`)."""
        if user.role not in PRINT_ROLES:
            raise Forbidden("report_output.print.not_permitted")
        if not 1 <= copies <= MAX_COPIES:
            raise ReportingError("report_output.print.copies_range", most=MAX_COPIES)
        signed = source.load(self.engine, self.ris, report_id)
        printed = self._prints_before(report_id, signed.version.number)
        reprint = printed > 0
        if reprint and not self.may_reprint(user):
            record_audit(
                self.engine,
                username=user.username,
                action="report.reprint_refused",
                target=f"report:{report_id}",
                detail={
                    "accession": signed.report.accession_number,
                    "version": signed.version.number,
                },
                address=address,
            )
            raise Forbidden("report_output.print.reprint_permission")
        if reprint and not reason.strip():
            raise ReportingError("report_output.print.reprint_reason")
        note = print_note(reprint, printed + 1)
        pdf = self.render(signed, copy_note=note, base_url=base_url) if render else b""
        record = self._log_print(signed, user, copies, reprint, reason.strip(), address)
        return pdf, record

    def _prints_before(self, report_id: int, version: int, before: int | None = None) -> int:
        """How many prints of that signed version are logged (before print id ``before``)."""
        condition = and_(prints.c.report_id == report_id, prints.c.version == version)
        if before is not None:
            condition = and_(condition, prints.c.id < before)
        with db.read(self.engine) as conn:
            return int(
                conn.execute(select(func.count()).select_from(prints).where(condition)).scalar_one()
            )

    def _log_print(
        self,
        signed: source.SignedReport,
        user: User,
        copies: int,
        reprint: bool,
        reason: str,
        address: str,
    ) -> PrintRecord:
        report_id, number = signed.report.id, signed.version.number
        at = clock.now()
        with db.write(self.engine) as conn:
            new_id = conn.execute(
                insert(prints)
                .values(
                    report_id=report_id,
                    version=number,
                    accession_number=signed.report.accession_number,
                    username=user.username,
                    printed_at=at,
                    copies=copies,
                    reprint=reprint,
                    reason=reason[:1000],
                    address=address[:64],
                )
                .returning(prints.c.id)
            ).scalar_one()
            record_audit(
                conn,
                username=user.username,
                action="report.reprint" if reprint else "report.print",
                target=f"report:{report_id}",
                detail={
                    "accession": signed.report.accession_number,
                    "version": number,
                    "copies": copies,
                    "reason": reason[:200],
                },
                address=address,
            )
        return PrintRecord(
            new_id,
            report_id,
            number,
            signed.report.accession_number,
            user.username,
            at,
            copies,
            reprint,
            reason,
        )

    def printed_pdf(self, print_id: int, user: User, base_url: str = "") -> bytes:
        """The PDF of a logged print, for the user who printed it and only shortly after (a
        browser fetches it to print; it is no way around the reprint permission)."""
        with db.read(self.engine) as conn:
            row = conn.execute(select(prints).where(prints.c.id == print_id)).first()
        if row is None or row.username != user.username:
            raise NotFound("report_output.print.unknown", id=print_id)
        if clock.now() - row.printed_at > PRINT_FETCH_WINDOW:
            raise Forbidden("report_output.print.expired")
        before = self._prints_before(row.report_id, row.version, before=row.id)
        signed = source.load(self.engine, self.ris, row.report_id, row.version)
        note = print_note(bool(row.reprint), before + 1)
        return self.render(signed, copy_note=note, base_url=base_url)

    def print_log(self, report_id: int) -> list[PrintRecord]:
        with db.read(self.engine) as conn:
            rows = conn.execute(
                select(prints).where(prints.c.report_id == report_id).order_by(prints.c.id)
            ).all()
        return [_record(r) for r in rows]

    def grant_reprint(self, username: str, *, by: str, note: str = "") -> ReprintGrant:
        if get_user(self.engine, username) is None:
            raise NotFound("report_output.grant.no_user", username=username)
        at = clock.now()
        with db.write(self.engine) as conn:
            conn.execute(delete(grants).where(grants.c.username == username))
            conn.execute(
                insert(grants).values(
                    username=username, granted_by=by, granted_at=at, note=note[:255]
                )
            )
            record_audit(
                conn,
                username=by,
                action="report.reprint_granted",
                target=f"user:{username}",
                detail={"note": note[:200]},
            )
        return ReprintGrant(username, by, at, note[:255])

    def revoke_reprint(self, username: str, *, by: str) -> None:
        with db.write(self.engine) as conn:
            gone = conn.execute(delete(grants).where(grants.c.username == username)).rowcount
            if not gone:
                raise NotFound("report_output.grant.none", username=username)
            record_audit(
                conn, username=by, action="report.reprint_revoked", target=f"user:{username}"
            )

    def reprint_grants(self) -> list[ReprintGrant]:
        with db.read(self.engine) as conn:
            rows = conn.execute(select(grants).order_by(grants.c.username)).all()
        return [ReprintGrant(r.username, r.granted_by, r.granted_at, r.note) for r in rows]


def _record(r: Row[Any]) -> PrintRecord:
    return PrintRecord(
        r.id,
        r.report_id,
        r.version,
        r.accession_number,
        r.username,
        r.printed_at,
        r.copies,
        bool(r.reprint),
        r.reason,
    )
