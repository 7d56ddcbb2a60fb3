"""The follow-up service (随访): marking an exam for follow-up, recording what became of the
patient, pathology results received (HL7 ORU^R01 from the pathology system) matched to their
exam, and the doctor's judgement whether imaging and pathology agree.

The report keeps what it shows (``pathology_result``, ``clinical_outcome``,
``pathology_agreement``): they are written through the reporting service's
``record_follow_up`` (which notes each change in the report's history), never here twice.
This module's own tables hold the mark (due date, note, open/done), the clinical diagnosis and
treatment, and every pathology result as received. Each change is in the audit trail too."""

from __future__ import annotations

from datetime import date
from typing import Any

from sqlalchemy import Connection, Engine, insert, select, update

from core_server import clock, db
from core_server.auth import record_audit
from core_server.followup import matching
from core_server.followup.models import STATES, Case, PathologyIn, PathologyResult
from core_server.followup.tables import followup_cases as cases
from core_server.followup.tables import followup_pathology_results as results
from core_server.refusals import Conflict, Invalid, NotFound
from core_server.reporting import AGREEMENT, Doctor, Reporting
from core_server.ris import Exam, Ris
from core_server.ris import NotFound as ExamNotFound

_TEXT_LIMIT = 20000  # a pathology report is long, but not a book


class Followup:
    def __init__(self, engine: Engine, ris: Ris, reporting: Reporting) -> None:
        self.engine = engine
        self.ris = ris
        self.reporting = reporting

    # -- the mark ------------------------------------------------------------------------------

    def mark(self, exam_id: int, doctor: Doctor, *, due_date: date | None, note: str = "") -> Case:
        """Mark an exam for follow-up (again: the due date and note change and the case opens
        again if it was done)."""
        exam = self._exam(exam_id)
        now = clock.now()
        with db.write(self.engine) as conn:
            if self._row(conn, exam_id) is None:
                conn.execute(insert(cases).values(**_case_values(exam), marked_at=now))
            conn.execute(
                update(cases)
                .where(cases.c.exam_id == exam_id)
                .values(
                    due_date=due_date,
                    note=note,
                    status="open",
                    done_by="",
                    done_at=None,
                    marked_by=doctor.username,
                    updated_by=doctor.username,
                    updated_at=now,
                )
            )
            detail = {"due_date": due_date.isoformat() if due_date else None, "note": note}
            _audit(conn, doctor, "followup.mark", exam, detail)
        return self.case(exam_id)

    def complete(self, exam_id: int, doctor: Doctor, *, done: bool = True) -> Case:
        """Follow-up done (or open again)."""
        with db.write(self.engine) as conn:
            row = self._row(conn, exam_id, required=True)
            now = clock.now()
            conn.execute(
                update(cases)
                .where(cases.c.id == row.id)
                .values(
                    status="done" if done else "open",
                    done_by=doctor.username if done else "",
                    done_at=now if done else None,
                    updated_by=doctor.username,
                    updated_at=now,
                )
            )
            action = "followup.done" if done else "followup.reopen"
            _audit(conn, doctor, action, row, {})
        return self.case(exam_id)

    # -- what became of the patient ------------------------------------------------------------

    def record(
        self,
        exam_id: int,
        doctor: Doctor,
        *,
        clinical_diagnosis: str | None = None,
        treatment: str | None = None,
        pathology_result: str | None = None,
        clinical_outcome: str | None = None,
        agreement: str | None = None,
    ) -> Case:
        """Record by hand: the clinical diagnosis and treatment (on the case), the pathology
        result, the clinical outcome and whether imaging and pathology agree (on the report).
        Anything left None is unchanged."""
        if agreement is not None and agreement and agreement not in AGREEMENT:
            raise Invalid(
                "followup.agreement.invalid", value=agreement, allowed=", ".join(AGREEMENT)
            )
        on_report = {
            "pathology_result": pathology_result,
            "clinical_outcome": clinical_outcome,
            "agreement": agreement,
        }
        on_report = {k: v for k, v in on_report.items() if v is not None}
        report = self.reporting.report_for_exam(exam_id)
        if on_report and report is None:
            raise Conflict("followup.no_report", exam_id=exam_id)
        with db.write(self.engine) as conn:
            row = self._row(conn, exam_id, required=True)
            own = {"clinical_diagnosis": clinical_diagnosis, "treatment": treatment}
            own = {k: v for k, v in own.items() if v is not None}
            conn.execute(
                update(cases)
                .where(cases.c.id == row.id)
                .values(**own, updated_by=doctor.username, updated_at=clock.now())
            )
            _audit(conn, doctor, "followup.record", row, {**own, **on_report})
        if on_report and report is not None:
            self.reporting.record_follow_up(report.id, doctor, **on_report)
        return self.case(exam_id)

    # -- pathology results received ------------------------------------------------------------

    def receive_pathology(self, result: PathologyIn) -> PathologyResult:
        """Keep a pathology result as received, matched to its exam when one matches (see
        :mod:`.matching`); a matched exam gets a follow-up case (opened by the sender if no
        doctor marked it) and its report, if it has one, shows the result. Never lost: an
        unmatched result is listed until a doctor assigns it."""
        exam = matching.exam_for(self.ris, result, self._open_exams_of(result.patient_id))
        values: dict[str, Any] = {
            "received_at": clock.now(),
            "sender": result.sender[:180],
            "control_id": result.control_id[:64],
            "accession_number": (result.numbers[0] if result.numbers else "")[:64],
            "placer_number": result.placer_number[:64],
            "filler_number": result.filler_number[:64],
            "patient_id": result.patient_id[:64],
            "patient_name": result.patient_name[:128],
            "text": result.text[:_TEXT_LIMIT],
            "observed_at": result.observed_at,
        }
        sender = Doctor(f"hl7:{result.sender or 'pathology'}"[:64], "device")
        with db.write(self.engine) as conn:
            if exam is not None:
                values.update(exam_id=exam.id, matched_by=sender.username, matched_at=clock.now())
            new_id = conn.execute(insert(results).values(**values)).inserted_primary_key
            assert new_id is not None
            detail = {"result_id": int(new_id[0]), "matched": exam is not None}
            if exam is not None:
                self._open_for(conn, exam, sender)
            _audit(conn, sender, "followup.pathology_received", exam, detail)
        if exam is not None:
            self._show_on_report(exam.id, sender, values["text"])
        return self.result(int(new_id[0]))

    def assign(self, result_id: int, exam_id: int, doctor: Doctor) -> PathologyResult:
        """A doctor matches an unmatched (or wrongly matched) result to its exam by hand."""
        exam = self._exam(exam_id)
        with db.write(self.engine) as conn:
            row = conn.execute(select(results).where(results.c.id == result_id)).first()
            if row is None:
                raise NotFound("followup.result.not_found", result_id=result_id)
            conn.execute(
                update(results)
                .where(results.c.id == result_id)
                .values(exam_id=exam.id, matched_by=doctor.username, matched_at=clock.now())
            )
            self._open_for(conn, exam, doctor)
            _audit(conn, doctor, "followup.pathology_assigned", exam, {"result_id": result_id})
        self._show_on_report(exam.id, doctor, row.text)
        return self.result(result_id)

    def result(self, result_id: int) -> PathologyResult:
        with db.read(self.engine) as conn:
            row = conn.execute(select(results).where(results.c.id == result_id)).first()
        if row is None:
            raise NotFound("followup.result.not_found", result_id=result_id)
        return PathologyResult(**row._mapping)

    def unmatched(self, limit: int = 200) -> list[PathologyResult]:
        with db.read(self.engine) as conn:
            rows = conn.execute(
                select(results)
                .where(results.c.exam_id.is_(None))
                .order_by(results.c.received_at.desc(), results.c.id.desc())
                .limit(limit)
            ).all()
        return [PathologyResult(**r._mapping) for r in rows]

    # -- reading -------------------------------------------------------------------------------

    def case(self, exam_id: int) -> Case:
        with db.read(self.engine) as conn:
            row = self._row(conn, exam_id, required=True)
            received = self._results(conn, [exam_id])
        return self._case(row, received.get(exam_id, ()))

    def cases(self, state: str = "all", *, author: str = "", limit: int = 500) -> list[Case]:
        """The follow-up list: due (soonest first), overdue (longest overdue first), done
        (latest first) or all; ``author``: only exams whose report this doctor wrote."""
        if state not in STATES:
            raise Invalid("followup.state.invalid", value=state, allowed=", ".join(STATES))
        today = clock.today()
        query = select(cases)
        if state == "done":
            query = query.where(cases.c.status == "done").order_by(cases.c.done_at.desc())
        elif state == "overdue":
            query = query.where(cases.c.status == "open", cases.c.due_date < today)
            query = query.order_by(cases.c.due_date, cases.c.id)
        elif state == "due":
            query = query.where(
                cases.c.status == "open",
                (cases.c.due_date >= today) | cases.c.due_date.is_(None),
            ).order_by(cases.c.due_date.is_(None), cases.c.due_date, cases.c.id)
        else:
            query = query.order_by(cases.c.id.desc())
        with db.read(self.engine) as conn:
            rows = conn.execute(query.limit(limit)).all()
            received = self._results(conn, [r.exam_id for r in rows])
        found = [self._case(r, received.get(r.exam_id, ())) for r in rows]
        return [c for c in found if c.author == author] if author else found

    def counts(self) -> dict[str, int]:
        """How many cases each list holds (the page's tabs) and unmatched results."""
        today = clock.today()
        with db.read(self.engine) as conn:
            rows = conn.execute(select(cases.c.status, cases.c.due_date)).all()
            unmatched = len(
                conn.execute(select(results.c.id).where(results.c.exam_id.is_(None))).all()
            )
        out = {"due": 0, "overdue": 0, "done": 0}
        for status, due in rows:
            if status == "done":
                out["done"] += 1
            elif due is not None and due < today:
                out["overdue"] += 1
            else:
                out["due"] += 1
        return {**out, "all": len(rows), "unmatched": unmatched}

    # -- helpers -------------------------------------------------------------------------------

    def _exam(self, exam_id: int) -> Exam:
        try:
            return self.ris.exam(exam_id)
        except ExamNotFound:
            raise NotFound("followup.exam.not_found", exam_id=exam_id) from None

    @staticmethod
    def _row(conn: Connection, exam_id: int, *, required: bool = False) -> Any:
        row = conn.execute(select(cases).where(cases.c.exam_id == exam_id)).first()
        if row is None and required:
            raise NotFound("followup.case.not_found", exam_id=exam_id)
        return row

    @staticmethod
    def _results(conn: Connection, exam_ids: list[int]) -> dict[int, tuple[PathologyResult, ...]]:
        if not exam_ids:
            return {}
        rows = conn.execute(
            select(results).where(results.c.exam_id.in_(exam_ids)).order_by(results.c.id)
        ).all()
        out: dict[int, list[PathologyResult]] = {}
        for r in rows:
            out.setdefault(r.exam_id, []).append(PathologyResult(**r._mapping))
        return {k: tuple(v) for k, v in out.items()}

    def _case(self, row: Any, received: tuple[PathologyResult, ...]) -> Case:
        report = self.reporting.report_for_exam(row.exam_id)
        extra: dict[str, Any] = {}
        if report is not None:
            extra = {
                "report_id": report.id,
                "author": report.author,
                "impression": report.impression,
                "pathology_result": report.pathology_result,
                "clinical_outcome": report.clinical_outcome,
                "agreement": report.pathology_agreement,
                "agreement_by": report.agreement_by,
            }
        return Case(**row._mapping, **extra, results=received)

    def _open_exams_of(self, patient_id: str) -> list[int]:
        """The exams of the patient's open follow-up cases (the last way to match a result)."""
        if not patient_id:
            return []
        with db.read(self.engine) as conn:
            return list(
                conn.execute(
                    select(cases.c.exam_id).where(
                        cases.c.patient_id == patient_id, cases.c.status == "open"
                    )
                ).scalars()
            )

    def _open_for(self, conn: Connection, exam: Exam, doctor: Doctor) -> None:
        """A result for an exam nobody marked opens its case: a doctor must judge it."""
        if self._row(conn, exam.id) is None:
            now = clock.now()
            conn.execute(
                insert(cases).values(
                    **_case_values(exam),
                    marked_by=doctor.username,
                    marked_at=now,
                    updated_by=doctor.username,
                )
            )

    def _show_on_report(self, exam_id: int, doctor: Doctor, text: str) -> None:
        """The newest result is what the report shows (the report's history keeps the one
        before, this module every one received)."""
        report = self.reporting.report_for_exam(exam_id)
        if report is not None:
            self.reporting.record_follow_up(report.id, doctor, pathology_result=text)


def _case_values(exam: Exam) -> dict[str, Any]:
    return {
        "exam_id": exam.id,
        "accession_number": exam.accession_number,
        "patient_id": exam.patient_id,
        "patient_name": exam.patient_name,
        "modality": exam.modality,
        "procedure_name": exam.procedure_name or exam.procedure_code,
        "updated_at": clock.now(),
    }


def _audit(conn: Connection, doctor: Doctor, action: str, target: Any, detail: dict) -> None:
    record_audit(
        conn,
        username=doctor.username,
        action=action,
        target=f"exam:{target.accession_number}" if target is not None else "",
        detail=detail,
    )
