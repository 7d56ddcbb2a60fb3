"""``core-server storage ...`` subcommands of the tiers part:

- ``storage check [--sample N | --full] [--repair]``: the consistency check (index vs online
  files vs checksums vs copies); prints the report as JSON; exit 1 when problems remain.
- ``storage recall STUDY_UID``: bring a study back online from its copies.
- ``storage copy STUDY_UID AREA [--drop-online] [--min-verified N]``: copy a study's objects
  to an area (and then remove their online files when enough verified copies exist).
"""

from __future__ import annotations

import argparse
import json
from collections.abc import Callable
from typing import Any

from sqlalchemy import Engine

from core_server.archive import Archive
from core_server.archive import copies as c
from core_server.archive.areas import check
from core_server.refusals import Refusal
from core_server.settings import Settings
from core_server.storage.tiers import rules_commands

Leaf = Callable[[Any, str, str], argparse.ArgumentParser]
DEFAULT_SAMPLE = 1000


def add(parent: Any, leaf: Leaf) -> None:
    """Add this part's actions to the ``storage`` group: ``leaf(parent, name, help)``."""
    checking = leaf(parent, "check", "consistency check of index, files, checksums, copies")
    how = checking.add_mutually_exclusive_group()
    how.add_argument("--sample", type=int, default=None, help=f"objects (default {DEFAULT_SAMPLE})")
    how.add_argument("--full", action="store_true", help="every object")
    checking.add_argument("--repair", action="store_true", help="repair from good copies")
    recalling = leaf(parent, "recall", "bring a study back online from its copies")
    recalling.add_argument("study_instance_uid")
    copying = leaf(parent, "copy", "copy a study's objects to a storage area")
    copying.add_argument("study_instance_uid")
    copying.add_argument("area")
    copying.add_argument("--drop-online", action="store_true", help="then remove online files")
    copying.add_argument("--min-verified", type=int, default=1)
    rules_commands.add(parent, leaf)  # storage rules (helper B, docs/storage-rules.md)


def run(args: argparse.Namespace, settings: Settings, engine: Engine) -> int | None:
    """Run ``args.action`` if it is this part's; None when it is another part's."""
    if args.action == "rules":  # helper B's lifecycle rules
        return rules_commands.run(args, settings, engine)
    if args.action not in ("check", "recall", "copy"):
        return None
    archive = Archive(engine, settings.storage_dir)
    try:
        if args.action == "check":
            return _check(args, archive)
        if args.action == "recall":
            uids = _study(archive, args.study_instance_uid)
            print(json.dumps({"recalled": archive.recall(uids)}))
            return 0
        return _copy(args, archive)
    except Refusal as e:
        raise SystemExit(f"storage {args.action}: {e}") from None


def _study(archive: Archive, study_uid: str) -> list[str]:
    uids = [a["SOPInstanceUID"] for a in archive.find("IMAGE", {"StudyInstanceUID": study_uid})]
    if not uids:
        raise SystemExit(f"no study {study_uid} in the archive")
    return uids


def _check(args: argparse.Namespace, archive: Archive) -> int:
    sample = None if args.full else (args.sample or DEFAULT_SAMPLE)
    report = check.run(archive.engine, archive.areas, sample=sample, repair=args.repair)
    print(json.dumps(report.as_json(), ensure_ascii=False, indent=1))
    return 1 if any(not p.repaired for p in report.problems) else 0


def _copy(args: argparse.Namespace, archive: Archive) -> int:
    copied = dropped = 0
    for uid in _study(archive, args.study_instance_uid):
        if c.copy_to(archive.engine, archive.areas, uid, args.area).verified:
            copied += 1
            if args.drop_online:
                dropped += c.drop_online(archive.engine, archive.areas, uid, args.min_verified)
    print(json.dumps({"copied_verified": copied, "online_dropped": dropped}))
    return 0
