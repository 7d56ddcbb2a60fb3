"""``core-server storage ...`` subcommands of the importing part:

- ``storage import DIR [--as PATIENT_ID] [--issuer I] [--exam ID] [--rekey] [--dry-run]``:
  show the patients and studies in ``DIR`` (a mounted disc, a folder), then store them: as
  our patient ``--as`` (the foreign IDs kept as other patient IDs), else with their own IDs;
- ``storage backup DIR [--encrypt-to age1...]``: the database and the files, incrementally;
- ``storage restore DIR [--identity KEYFILE] [--database NAME] [--force] [--files-only]``:
  into this command's ``--data-dir`` and ``--database-url`` (a new machine's).
"""

from __future__ import annotations

import argparse
from collections.abc import Callable
from pathlib import Path
from typing import Any

from sqlalchemy import Engine

from core_server import backup
from core_server.archive import Archive
from core_server.refusals import Refusal
from core_server.settings import Settings

Leaf = Callable[[Any, str, str], argparse.ArgumentParser]
ACTIONS = ("import", "backup", "restore")


def add(parent: Any, leaf: Leaf) -> None:
    """Add this part's actions to the ``storage`` group: ``leaf(parent, name, help)``."""
    importing = leaf(parent, "import", "import a disc or folder, reconciled to a RIS patient")
    importing.add_argument("folder", type=Path)
    importing.add_argument("--as", dest="as_patient", default="", help="our patient ID")
    importing.add_argument("--issuer", default="", help="issuer of that patient ID")
    importing.add_argument("--exam", type=int, default=None, help="link to this RIS exam id")
    importing.add_argument("--rekey", action="store_true", help="new Study/Series/SOP UIDs")
    importing.add_argument("--dry-run", action="store_true", help="only show what is there")
    backing = leaf(parent, "backup", "back the archive up (database + files) into a folder")
    backing.add_argument("folder", type=Path)
    backing.add_argument(
        "--encrypt-to",
        action="append",
        help="age public key (age1...), repeatable (default: backup_recipients)",
    )
    restoring = leaf(parent, "restore", "restore an archive backup into --data-dir")
    restoring.add_argument("folder", type=Path)
    restoring.add_argument("--identity", type=Path, default=None, help="age key file")
    restoring.add_argument("--database", default=None, help="a run's database file name")
    restoring.add_argument("--force", action="store_true", help="replace a non-empty archive")
    restoring.add_argument(
        "--files-only",
        action="store_true",
        help="only the files: the database was recovered another way (PostgreSQL PITR)",
    )


def run(args: argparse.Namespace, settings: Settings, engine: Engine) -> int | None:
    """Run ``args.action`` if it is this part's; None when it is another part's."""
    if args.action not in ACTIONS:
        return None
    try:
        if args.action == "import":
            return _import(args, settings, engine)
        if args.action == "backup":
            return _backup(args, settings)
        return _restore(args, settings, engine)
    except Refusal as exc:
        raise SystemExit(f"storage {args.action}: {exc}") from None


def _import(args: argparse.Namespace, settings: Settings, engine: Engine) -> int:
    from core_server.ris import Ris
    from core_server.storage.importing.service import ImportService

    archive = Archive(engine, settings.storage_dir)
    ris = Ris(engine, archive.bus, archive, files_dir=settings.data_dir / "ris")
    ris.start()
    service = ImportService(engine, archive, ris, archive.bus, settings.data_dir / "imports")
    session = service.open_folder(args.folder.resolve(), username="cli")
    for patient in session["patients"]:
        studies = patient["studies"]
        print(
            f"{patient['foreign_id'] or '-'}  {patient['name']}  {patient['birth_date']}  "
            f"{len(studies)} studies, {sum(s['instances'] for s in studies)} instances"
        )
    documents = len(session["documents"])
    print(f"session {session['id']}: {len(session['patients'])} patients, {documents} documents")
    if args.dry_run:
        return 0
    for patient in session["patients"]:
        service.decide(
            session["id"],
            patient["id"],
            decision="match" if args.as_patient else "keep",
            username="cli",
            patient_id=args.as_patient,
            issuer=args.issuer,
            exam_id=args.exam,
            rekey=args.rekey,
        )
    if args.exam is not None and documents:
        ids = [d["id"] for d in session["documents"]]
        service.attach(session["id"], ids, args.exam, username="cli")
    done = service.store(session["id"], username="cli")
    print(f"{done['state']}: " + ", ".join(f"{k} {v}" for k, v in sorted(done["files"].items())))
    for failed in done["failed"]:
        print(f"  {failed['path']}: {failed['error']}")
    return 0 if done["state"] == "done" and not done["failed"] else 1


def _backup(args: argparse.Namespace, settings: Settings) -> int:
    from core_server.storage.importing import archive_backup

    keys = ",".join(args.encrypt_to or []) or settings.backup_recipients
    recipients = backup.recipients_of(keys) if keys else []
    report = archive_backup.back_up(
        settings.data_dir, settings.effective_database_url, args.folder, recipients
    )
    print(
        f"database {report.database}; files copied {report.copied} ({report.bytes} bytes), "
        f"unchanged {report.unchanged}"
    )
    return 0


def _restore(args: argparse.Namespace, settings: Settings, engine: Engine) -> int:
    from core_server.storage.importing import archive_backup

    held = Archive(engine, settings.storage_dir).statistics()["instances"]
    engine.dispose()  # the database is replaced underneath
    if held and not args.force and not args.files_only:
        raise SystemExit(
            f"storage restore: {settings.data_dir} holds {held} objects already (--force)"
        )
    report = archive_backup.restore(
        args.folder,
        settings.data_dir,
        settings.effective_database_url,
        identity=args.identity,
        database=args.database,
        files_only=args.files_only,
    )
    print(
        f"database from {report.database}; files {report.files}, bad {len(report.bad)}, "
        f"missing {len(report.missing)}, not indexed {report.unindexed}"
    )
    for relative in report.bad + report.missing:
        print(f"  {relative}")
    return 1 if report.bad or report.missing else 0
