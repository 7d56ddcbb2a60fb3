"""``core-server``: run the core and administer it without the web UI.

core-server serve [--data-dir DIR] [--http-port N] ...
core-server users list | add NAME ROLE | passwd NAME | unlock NAME
core-server modality list | add AE HOST PORT | update AE ... | remove AE
core-server db migrate | backup [DEST] | check
core-server import PATH...
core-server tls init [NAME...] | show | renew
core-server cluster haproxy-config --node NAME=ADDRESS ...
core-server updates init-key | export-key FILE | publish ROLE FOLDER | list | remove ROLE V
"""

from __future__ import annotations

import argparse
import getpass
import json
import logging
import sys
from pathlib import Path
from typing import Any

from pydantic import ValidationError
from sqlalchemy import Engine, text

from core_server import auth, backup, clock, cluster_commands, db, modalities, tls
from core_server.archive import Archive
from core_server.server import serve
from core_server.settings import Settings
from core_server.storage import commands as storage_commands
from core_server.updates import commands as updates_commands
from core_server.workers import run_worker


def _add_settings_options(parser: argparse.ArgumentParser) -> None:
    for name, spec in Settings.model_fields.items():
        option = "--" + name.replace("_", "-")
        default = spec.default
        helptext = f"{spec.description} (env CORE_{name.upper()}; default {default})"
        helptext = helptext.replace("%", "%%")  # argparse formats help texts with %
        if spec.annotation is bool:
            parser.add_argument(
                option, action=argparse.BooleanOptionalAction, default=None, help=helptext
            )
        else:
            parser.add_argument(option, default=None, help=helptext)


def _settings(args: argparse.Namespace) -> Settings:
    given = {
        name: getattr(args, name)
        for name in Settings.model_fields
        if getattr(args, name, None) is not None
    }
    return Settings(**given)


def _engine(settings: Settings) -> Engine:
    engine = db.make_engine(settings.effective_database_url)
    db.migrate(engine)
    return engine


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="core-server", description=__doc__.split("\n")[0])
    options = argparse.ArgumentParser(add_help=False)
    _add_settings_options(options)
    commands = parser.add_subparsers(dest="command", required=True)

    def group(name: str, helptext: str) -> Any:
        return commands.add_parser(name, help=helptext).add_subparsers(dest="action", required=True)

    def leaf(parent: Any, name: str, helptext: str = "") -> argparse.ArgumentParser:
        # Settings options go on the last word, so they may follow it: `db check --data-dir X`.
        return parent.add_parser(name, help=helptext, parents=[options])

    leaf(commands, "serve", "run the core server")
    leaf(commands, "dicom-worker")  # started by `serve` with --dicom-workers > 1
    cluster_commands.add(commands)  # cluster haproxy-config (docs/cluster.md)

    users = group("users", "manage users")
    leaf(users, "list")
    add_user = leaf(users, "add")
    add_user.add_argument("username")
    add_user.add_argument("role", choices=auth.ROLES)
    add_user.add_argument("--display-name", default="")
    add_user.add_argument("--password", help="default: asked on the terminal")
    passwd = leaf(users, "passwd", "set a password (also lifts a sign-in backoff)")
    passwd.add_argument("username")
    passwd.add_argument("--password", help="default: asked on the terminal")
    passwd.add_argument(
        "--temporary",
        action="store_true",
        help="the user must change it at next sign-in (their sessions end)",
    )
    unlock = leaf(users, "unlock", "lift the sign-in backoff of an account now")
    unlock.add_argument("username")

    actions = group("modality", "manage registered DICOM peers")
    leaf(actions, "list")
    add = leaf(actions, "add")
    add.add_argument("ae_title_arg", metavar="AE_TITLE")
    add.add_argument("peer_host", metavar="HOST")
    add.add_argument("peer_port", metavar="PORT", type=int)
    update = leaf(actions, "update")
    update.add_argument("ae_title_arg", metavar="AE_TITLE")
    update.add_argument("--new-ae-title")
    update.add_argument("--peer-host")
    update.add_argument("--peer-port", type=int)
    for sub in (add, update):
        sub.add_argument("--description")
        for right in ("store", "query", "retrieve"):
            sub.add_argument(f"--allow-{right}", action=argparse.BooleanOptionalAction)
        sub.add_argument(
            "--allow-overwrite",
            action=argparse.BooleanOptionalAction,
            help="may replace an archived object by a different one under its SOP Instance UID"
            " (default: no)",
        )
        sub.add_argument(
            "--ascii-only",
            action=argparse.BooleanOptionalAction,
            help="its worklist names in pinyin only (a console without Chinese)",
        )
    remove = leaf(actions, "remove")
    remove.add_argument("ae_title_arg", metavar="AE_TITLE")

    db_actions = group("db", "database maintenance")
    leaf(db_actions, "migrate", "bring the schema to the newest revision")
    backup = leaf(db_actions, "backup", "copy the database (SQLite) or pg_dump it")
    backup.add_argument("destination", nargs="?", type=Path)
    backup.add_argument(
        "--encrypt-to",
        action="append",
        metavar="AGE_PUBLIC_KEY",
        help="age public key (age1...) to encrypt to; repeatable (default: backup_recipients)",
    )
    decrypt = leaf(db_actions, "decrypt", "decrypt an encrypted backup (docs/backup.md)")
    decrypt.add_argument("backup_file", type=Path)
    decrypt.add_argument("--identity", type=Path, required=True, help="age key file")
    decrypt.add_argument("--out", type=Path)
    leaf(db_actions, "check", "database integrity and index against storage")

    tls_actions = group("tls", "certificates of the HTTPS, DICOM TLS and MLLP TLS ports")
    init = leaf(tls_actions, "init", "create the appliance CA and a server certificate")
    init.add_argument(
        "names", nargs="*", help="host names and addresses (default: this host's, localhost)"
    )
    init.add_argument("--force", action="store_true", help="replace an existing certificate")
    leaf(tls_actions, "show", "the server certificate and its CA")
    renew = leaf(tls_actions, "renew", "a new server certificate from the appliance CA")
    renew.add_argument("names", nargs="*", help="new names (default: the current ones)")

    storage_commands.add(group("storage", "the archive's lifecycle (docs/storage.md)"), leaf)
    updates_commands.add(commands, leaf)  # signed image updates (docs/updates.md)

    importing = leaf(commands, "import", "import DICOM files, folders or a DICOMDIR")
    importing.add_argument("paths", nargs="+", type=Path)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        settings = _settings(args)
    except ValidationError as exc:
        print(f"error: invalid setting: {exc}", file=sys.stderr)
        return 2
    logging.basicConfig(
        level=settings.log_level.upper(),
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
    )
    # pynetdicom narrates every PDU and Alembic every step at INFO; warnings still show.
    for chatty in ("pynetdicom", "alembic"):
        logging.getLogger(chatty).setLevel(max(logging.WARNING, logging.root.level))
    try:
        return int(_run(args, settings) or 0)
    except (
        auth.AuthError,
        modalities.ModalityError,
        FileNotFoundError,
        tls.TlsError,
        backup.BackupError,
    ) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2


def _run(args: argparse.Namespace, settings: Settings) -> int | None:
    if args.command == "serve":
        serve(settings)
        return 0
    if args.command == "dicom-worker":
        run_worker(settings)
        return 0
    if args.command == "tls":
        return _tls(args, settings)
    if args.command == "cluster":
        return cluster_commands.run(args)
    if args.command == "updates":
        clock.set_zone(settings.timezone)
        return updates_commands.run(args, settings)
    settings.data_dir.mkdir(parents=True, exist_ok=True)
    clock.set_zone(settings.timezone)  # what the admin commands print and name is hospital time
    engine = _engine(settings)
    handler = {
        "users": _users,
        "modality": _modality,
        "db": _db,
        "import": _import,
        "storage": storage_commands.run,
    }
    return handler[args.command](args, settings, engine)


def _tls(args: argparse.Namespace, settings: Settings) -> int:
    """The appliance CA and its server certificate (docs/tls.md); a restart loads them."""
    from core_server.tls import certificates

    files = tls.files_of(settings)
    if args.action == "init":
        names = args.names or certificates.default_names()
        certificates.init(files, names, hospital=settings.hospital_name, force=args.force)
        print(f"appliance CA {files.ca}, server certificate {files.cert} for {', '.join(names)}")
    elif args.action == "renew":
        certificates.renew(files, args.names or None)
        print(f"server certificate {files.cert} renewed")
    else:
        for label, path in (("server", files.cert), ("ca", files.ca)):
            if not path.is_file():
                print(f"{label}: {path} missing")
                continue
            print(f"{label}: {path}")
            for line in certificates.summary(path).lines():
                print(f"  {line}")
        print(f"appliance CA key: {'yes' if files.ours else 'no (the hospital CA issued it)'}")
    return 0


def _password(given: str | None) -> str:
    if given:
        return given
    first = getpass.getpass("password: ")
    if first != getpass.getpass("again: "):
        raise auth.AuthError("auth.password.mismatch")
    return first


def _users(args: argparse.Namespace, settings: Settings, engine: Engine) -> int:
    """The console's user administration: the way back in when no administrator can sign in
    (``passwd`` and ``unlock`` lift any sign-in backoff; audited as done from the console)."""
    policy = auth.PasswordPolicy.from_settings(settings)
    if args.action == "list":
        for user in auth.list_users(engine):
            print(f"{user.username}\t{user.role}\t{'active' if user.active else 'disabled'}")
    elif args.action == "add":
        password = _password(args.password)
        auth.create_user(
            engine, args.username, password, args.role, args.display_name, policy=policy
        )
        auth.record_audit(
            engine,
            username=None,
            action=auth.AuditAction.USER_CREATE,
            target=f"user:{args.username}",
            detail={"role": args.role, "via": "console"},
            address="console",
        )
        print(f"user {args.username} added")
    elif args.action == "passwd":
        if auth.get_user(engine, args.username) is None:
            raise auth.UnknownUser(args.username)
        password = _password(args.password)
        if args.temporary:
            auth.reset_password(engine, args.username, password, policy=policy)
        else:
            auth.set_password(engine, args.username, password, policy=policy)
        auth.unlock(engine, args.username, by=None, address="console")
        print(f"password of {args.username} changed; sign-in backoff lifted")
    elif args.action == "unlock":
        if auth.get_user(engine, args.username) is None:
            raise auth.UnknownUser(args.username)
        auth.unlock(engine, args.username, by=None, address="console")
        print(f"sign-in backoff of {args.username} lifted")
    return 0


def _modality(args: argparse.Namespace, _settings: Settings, engine: Engine) -> int:
    if args.action == "list":
        for m in modalities.list_modalities(engine):
            print(json.dumps(m.as_dict(), ensure_ascii=False))
        return 0
    if args.action == "remove":
        modalities.remove_modality(engine, args.ae_title_arg)
        print(f"modality {args.ae_title_arg} removed")
        return 0
    changes: dict[str, Any] = {
        "description": args.description,
        "allow_store": args.allow_store,
        "allow_query": args.allow_query,
        "allow_retrieve": args.allow_retrieve,
        "ascii_only": args.ascii_only,
        "allow_overwrite": args.allow_overwrite,
    }
    if args.action == "add":
        changes = {k: v for k, v in changes.items() if v is not None}
        added = modalities.Modality(args.ae_title_arg, args.peer_host, args.peer_port, **changes)
        modalities.add_modality(engine, added)
        print(f"modality {args.ae_title_arg} added")
    else:
        changes.update(ae_title=args.new_ae_title, host=args.peer_host, port=args.peer_port)
        changes = {k: v for k, v in changes.items() if v is not None}
        modalities.update_modality(engine, args.ae_title_arg, **changes)
        print(f"modality {args.ae_title_arg} updated")
    return 0


def _db(args: argparse.Namespace, settings: Settings, engine: Engine) -> int:
    if args.action == "migrate":
        print("database schema is at the newest revision")
        return 0
    if args.action == "backup":
        written = _backup(engine, settings, args.destination)
        keys = ",".join(args.encrypt_to or []) or settings.backup_recipients
        if keys:
            kind = "sqlite" if db.is_sqlite(engine) else "pg_dump"
            written = backup.encrypt(written, backup.recipients_of(keys), kind)
        print(f"backup written to {written}")
        return 0
    if args.action == "decrypt":
        print(f"decrypted to {backup.decrypt(args.backup_file, args.identity, args.out)}")
        return 0
    problems = 0
    if db.is_sqlite(engine):
        with engine.connect() as conn:
            result = conn.execute(text("PRAGMA integrity_check")).scalar()
        print(f"sqlite integrity: {result}")
        problems += result != "ok"
    report = Archive(engine, settings.storage_dir).verify()
    for kind, paths in report.items():
        print(f"{kind}: {len(paths)}")
        for path in paths[:50]:
            print(f"  {path}")
        problems += len(paths)
    return 1 if problems else 0


def _backup(engine: Engine, settings: Settings, destination: Path | None) -> Path:
    stamp = clock.local().strftime("%Y%m%d-%H%M%S")
    suffix = ".db" if db.is_sqlite(engine) else ".pgdump"
    target = destination or settings.data_dir / "backups" / f"core-{stamp}{suffix}"
    backup.database_copy(settings.effective_database_url, target)
    return target


def _import(args: argparse.Namespace, settings: Settings, engine: Engine) -> int:
    from tqdm import tqdm

    from core_server.archive.importer import candidate_files, import_files

    archive = Archive(engine, settings.storage_dir)
    files = candidate_files(args.paths)
    with tqdm(total=len(files), unit="file", desc="import") as bar:
        report = import_files(archive.store_instance, files, lambda _p: bar.update())
    print(
        f"stored {report.stored}, already present {report.duplicates}, "
        f"not objects {report.skipped}, failed {len(report.failed)}"
    )
    for path, reason in report.failed:
        print(f"  {path}: {reason}", file=sys.stderr)
    return 1 if report.failed else 0


if __name__ == "__main__":
    sys.exit(main())
