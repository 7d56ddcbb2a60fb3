"""The import service (``lifecycle.importing``): open a session on a folder (a mounted CD/DVD,
a USB stick) or on files uploaded from the browser, show what it holds, take the
registrar's decision per foreign patient (IHE IRWF.b), then store it."""

from __future__ import annotations

import json
import logging
import re
import shutil
import threading
import zipfile
from collections.abc import Iterable
from pathlib import Path, PurePosixPath
from typing import Any, BinaryIO

from sqlalchemy import Engine, select, update

from core_server import clock, db
from core_server.archive import Archive
from core_server.archive.importer import Coercion
from core_server.events import EventBus
from core_server.refusals import Conflict, Invalid, NotFound
from core_server.ris import Ris
from core_server.storage.importing import run, sessions
from core_server.storage.importing.scan import scan
from core_server.storage.importing.tables import storage_import_files as files_t
from core_server.storage.importing.tables import storage_import_sessions as sessions_t

log = logging.getLogger(__name__)
TOPIC = "storage.import"
# Folders a web user may import from (mounted discs and sticks): not the rest of the core's
# disk. The CLI, run by the operator, takes any folder.
MEDIA_ROOTS = (Path("/media"), Path("/mnt"), Path("/run/media"))
_SAFE = re.compile(r"[^\w.\-\u3400-\u9fff]+")


class ImportService:
    def __init__(
        self, engine: Engine, archive: Archive, ris: Ris | None, bus: EventBus, uploads: Path
    ) -> None:
        self.engine, self.archive, self.ris, self.bus = engine, archive, ris, bus
        self.uploads = uploads
        self.roots: list[Path] = list(MEDIA_ROOTS)
        self._threads: dict[int, threading.Thread] = {}

    def start(self) -> None:
        """A session that was storing when the core stopped is marked interrupted (run it
        again to store the rest)."""
        with db.write(self.engine) as conn:
            conn.execute(
                update(sessions_t)
                .where(sessions_t.c.state == "running")
                .values(state="interrupted")
            )

    def stop(self) -> None:
        for thread in list(self._threads.values()):
            thread.join(timeout=30)

    # -- opening ---------------------------------------------------------------------------

    def open_folder(
        self, folder: Path, *, username: str, label: str = "", kind: str = "folder"
    ) -> dict[str, Any]:
        """Scan a folder (its DICOMDIR, or every file) and record what it holds; nothing is
        stored yet."""
        if not folder.is_dir():
            raise NotFound("storage.importing.source_missing", source=str(folder))
        found = scan(folder)
        with db.write(self.engine) as conn:
            session_id = sessions.insert_session(
                conn, folder, found, kind=kind, label=label, username=username
            )
        return self.session(session_id)

    def open_media(self, folder: Path, *, username: str, label: str = "") -> dict[str, Any]:
        """:meth:`open_folder` for a web user: only under :attr:`roots` (a mounted disc)."""
        resolved = folder.resolve()
        if not any(resolved.is_relative_to(root.resolve()) for root in self.roots):
            raise Invalid(
                "storage.importing.source_not_media",
                source=str(folder),
                roots=", ".join(str(r) for r in self.roots),
            )
        return self.open_folder(resolved, username=username, label=label)

    def open_upload(
        self, uploaded: Iterable[tuple[str, BinaryIO]], *, username: str, label: str = ""
    ) -> dict[str, Any]:
        """Files sent from the browser (many files, a folder's files with their relative
        paths, or zip archives, unpacked) into their own folder, then scanned."""
        folder = self.uploads / clock.local().strftime("%Y%m%d-%H%M%S-%f")
        folder.mkdir(parents=True)
        count = 0
        for name, stream in uploaded:
            if name.lower().endswith(".zip"):
                count += _unzip(stream, folder / _safe_path(name).stem)
            else:
                target = folder / _safe_path(name)
                target.parent.mkdir(parents=True, exist_ok=True)
                with target.open("wb") as out:
                    shutil.copyfileobj(stream, out)
                count += 1
        if not count:
            shutil.rmtree(folder)
            raise Invalid("storage.importing.nothing_uploaded")
        return self.open_folder(folder, username=username, label=label, kind="upload")

    # -- reading ---------------------------------------------------------------------------

    def session(self, session_id: int) -> dict[str, Any]:
        with db.read(self.engine) as conn:
            return sessions.describe(conn, session_id)

    def sessions(self, limit: int = 50) -> list[dict[str, Any]]:
        with db.read(self.engine) as conn:
            return sessions.sessions(conn, limit)

    def candidates(self, session_id: int, row_id: int) -> list[dict[str, Any]]:
        """Our RIS patients who may be this foreign patient: the same name and birth date,
        or the foreign ID as one of ours or as an ID card number."""
        ris = self._ris()
        with db.read(self.engine) as conn:
            row = sessions.patient_row(conn, session_id, row_id)
        view = sessions.patient_view(row)
        found: dict[tuple[str, str], Any] = {}
        born = _date(row.birth_date)
        searches: list[dict[str, Any]] = []
        if view["name"]:
            searches.append({"name": view["name"], "birth_date": born})
        if row.foreign_id:
            searches += [{"patient_id": row.foreign_id}, {"id_card_number": row.foreign_id}]
        for search in searches:
            for patient in ris.find_patients(**search, limit=20):
                found.setdefault((patient.patient_id, patient.issuer), patient)
        return [p.as_dict() for p in found.values()]

    # -- deciding --------------------------------------------------------------------------

    def decide(
        self,
        session_id: int,
        row_id: int,
        *,
        decision: str,
        username: str,
        patient_id: str = "",
        issuer: str = "",
        exam_id: int | None = None,
        rekey: bool = False,
    ) -> dict[str, Any]:
        """``match``: store as our patient ``patient_id``/``issuer`` (the foreign ID kept in
        Other Patient IDs); ``keep``: store with the foreign IDs unchanged; ``skip``: not
        stored. ``exam_id``: link the studies to this exam of the patient; ``rekey``: new
        Study/Series/SOP Instance UIDs."""
        if decision not in sessions.DECISIONS:
            raise Invalid("storage.importing.decision_unknown", decision=decision)
        if decision == "match":
            patient = self._ris().patient(patient_id, issuer)  # NotFound when not ours
            patient_id, issuer = patient.patient_id, patient.issuer
        else:
            patient_id = issuer = ""
        if exam_id is not None:
            self._check_exam(exam_id, patient_id, issuer, decision)
        values = {
            "decision": decision,
            "patient_id": patient_id,
            "issuer": issuer,
            "exam_id": exam_id,
            "rekey": rekey,
        }
        with db.write(self.engine) as conn:
            sessions.record_decision(conn, session_id, row_id, values, username)
        return self.session(session_id)

    def attach(
        self, session_id: int, file_ids: list[int], exam_id: int | None, *, username: str
    ) -> dict[str, Any]:
        """Pictures and PDFs of the session to be wrapped for ``exam_id`` (None: not)."""
        if exam_id is not None:
            self._ris().exam(exam_id)
        with db.write(self.engine) as conn:
            sessions.session_row(conn, session_id)
            conn.execute(
                update(files_t)
                .where(
                    files_t.c.session_id == session_id,
                    files_t.c.id.in_(file_ids),
                    files_t.c.kind.in_(("picture", "pdf")),
                )
                .values(exam_id=exam_id)
            )
        log.info("%s: session %s documents %s for exam %s", username, session_id, file_ids, exam_id)
        return self.session(session_id)

    def _check_exam(self, exam_id: int, patient_id: str, issuer: str, decision: str) -> None:
        exam = self._ris().exam(exam_id)
        if decision == "match" and (exam.patient_id, exam.issuer) != (patient_id, issuer):
            raise Conflict("storage.importing.exam_of_other_patient", exam_id=exam_id)

    # -- storing ---------------------------------------------------------------------------

    def store(self, session_id: int, *, username: str, wait: bool = True) -> dict[str, Any]:
        """Store the session (every foreign patient decided); ``wait=False`` runs it on a
        thread (the web), its progress published on ``storage.import``."""
        plan = self._plan(session_id)
        with db.write(self.engine) as conn:  # one UPDATE: two stores at once, one runs
            taken = conn.execute(
                update(sessions_t)
                .where(sessions_t.c.id == session_id, sessions_t.c.state != "running")
                .values(state="running", error="")
            ).rowcount
        if not taken:
            raise Conflict("storage.importing.running", session_id=session_id)
        if wait:
            self._run(plan, username)
        else:
            thread = threading.Thread(
                target=self._run, args=(plan, username), name=f"import-{session_id}", daemon=True
            )
            self._threads[session_id] = thread
            thread.start()
        return self.session(session_id)

    def _plan(self, session_id: int) -> run.Plan:
        with db.read(self.engine) as conn:
            row = sessions.session_row(conn, session_id)
            patients = sessions.patients_of(conn, session_id)
            sop_uids = [
                uid
                for (uid,) in conn.execute(
                    select(files_t.c.sop_instance_uid).where(files_t.c.session_id == session_id)
                )
            ]
        if any(p.decision == "pending" for p in patients):
            raise Conflict("storage.importing.undecided", session_id=session_id)
        levels: dict[str, str] = {uid: "instance" for uid in sop_uids if uid}
        for p in patients:
            for study in json.loads(p.studies):
                levels[study["study_instance_uid"]] = "study"
                levels.update({s: "series" for s in study["series"]})
        uid_map = run.UidMap(self.engine, session_id, levels)
        coercions: dict[int, Coercion | None] = {}
        for p in patients:
            if p.decision == "skip":
                continue
            identity = self._identity(p) if p.decision == "match" else {}
            foreign = (p.foreign_id, p.foreign_issuer) if p.decision == "match" else None
            new_uid = uid_map if p.rekey else None
            coercions[p.id] = Coercion(identity, foreign, new_uid) if identity or new_uid else None
        return run.Plan(
            session_id, Path(row.source), row.created_at, coercions, self._document_identity
        )

    def _run(self, plan: run.Plan, username: str) -> None:
        done = 0

        def progress() -> None:
            nonlocal done
            done += 1
            if done % 20 == 0:
                self.bus.publish(TOPIC, {"session_id": plan.session_id, "done": done})

        try:
            run.store_all(self.engine, self.archive, plan, progress)
            self._link_exams(plan.session_id, username)
            state, error = "done", ""
        except Exception as exc:  # recorded on the session for the page; the log has it all
            log.exception("import session %s failed", plan.session_id)
            state, error = "failed", str(exc)[:2000]
        with db.write(self.engine) as conn:
            sessions.set_state(conn, plan.session_id, state, error)
        self._threads.pop(plan.session_id, None)
        self.bus.publish(TOPIC, {"session_id": plan.session_id, "state": state, "done": done})

    def _link_exams(self, session_id: int, username: str) -> None:
        with db.read(self.engine) as conn:
            patients = sessions.patients_of(conn, session_id)
        for p in patients:
            if p.exam_id is None or p.decision == "skip":
                continue
            exam = self._ris().exam(int(p.exam_id))
            for uid in run.stored_studies(self.engine, session_id, p.id):
                if uid not in exam.studies:
                    exam = self._ris().link_study(
                        uid, exam.id, username=username, reason=f"import session {session_id}"
                    )

    def _identity(self, p: Any) -> dict[str, str]:
        patient = self._ris().patient(p.patient_id, p.issuer)
        identity = {
            "PatientID": patient.patient_id,
            "IssuerOfPatientID": patient.issuer,
            "PatientName": patient.dicom_name,
            "PatientBirthDate": patient.birth_date.strftime("%Y%m%d") if patient.birth_date else "",
            "PatientSex": patient.sex,
        }
        if p.exam_id is not None:
            exam = self._ris().exam(int(p.exam_id))
            identity["AccessionNumber"] = exam.accession_number
            if exam.requested_procedure_id:
                identity["RequestedProcedureID"] = exam.requested_procedure_id
        else:
            # The other hospital's accession number means nothing here and could name one of
            # our exams by chance (the RIS links by it): emptied, kept in Original Attributes.
            identity["AccessionNumber"] = ""
        return identity

    def _document_identity(self, exam_id: int) -> dict[str, str]:
        """A wrapped document's identity: its exam's patient, accession number and study (the
        first one linked, else the exam's own UID), the study's date when it is stored."""
        exam = self._ris().exam(exam_id)
        patient = self._ris().patient(exam.patient_id, exam.issuer)
        study_uid = exam.studies[0] if exam.studies else exam.study_instance_uid
        stored = next(
            self.archive.find(
                "STUDY",
                {"StudyInstanceUID": study_uid, "StudyDate": "", "StudyTime": "", "StudyID": ""},
            ),
            {},
        )
        now = clock.local()
        return {
            "PatientID": patient.patient_id,
            "IssuerOfPatientID": patient.issuer,
            "PatientName": patient.dicom_name,
            "PatientBirthDate": patient.birth_date.strftime("%Y%m%d") if patient.birth_date else "",
            "PatientSex": patient.sex,
            "StudyInstanceUID": study_uid,
            "StudyDate": str(stored.get("StudyDate") or now.strftime("%Y%m%d")),
            "StudyTime": str(stored.get("StudyTime") or now.strftime("%H%M%S")),
            "StudyID": str(stored.get("StudyID") or ""),
            "AccessionNumber": exam.accession_number,
            "RequestedProcedureID": exam.requested_procedure_id,
        }

    def _ris(self) -> Ris:
        if self.ris is None:
            raise Conflict("storage.importing.no_ris")
        return self.ris


def _date(text: str) -> Any:
    from datetime import date

    try:
        return date(int(text[:4]), int(text[4:6]), int(text[6:8])) if len(text) >= 8 else None
    except ValueError:
        return None


def _safe_path(name: str) -> Path:
    """A browser-given relative name without ``..``, absolute parts or odd characters."""
    parts = [_SAFE.sub("_", p) for p in PurePosixPath(name.replace("\\", "/")).parts]
    parts = [p for p in parts if p not in ("", ".", "..", "/")]
    return Path(*parts) if parts else Path("upload")


def _unzip(stream: BinaryIO, folder: Path) -> int:
    """The archive's files under ``folder`` (names made safe: no escaping the folder)."""
    count = 0
    try:
        with zipfile.ZipFile(stream) as archive:
            for member in archive.infolist():
                if member.is_dir():
                    continue
                target = folder / _safe_path(member.filename)
                target.parent.mkdir(parents=True, exist_ok=True)
                with archive.open(member) as source, target.open("wb") as out:
                    shutil.copyfileobj(source, out)
                count += 1
    except zipfile.BadZipFile as exc:
        raise Invalid("storage.importing.bad_zip", reason=str(exc)) from exc
    return count
