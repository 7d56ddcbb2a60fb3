"""``core-server storage recycle-list``, ``recycle-restore ID``, ``recycle-erase [--all]``:
the recycle bin for the operator (docs/storage-recycle.md)."""

from __future__ import annotations

import argparse
import json
from collections.abc import Callable
from typing import Any

from sqlalchemy import Engine

from core_server.settings import Settings

Leaf = Callable[[Any, str, str], argparse.ArgumentParser]
ACTIONS = ("recycle-list", "recycle-restore", "recycle-erase")


def add(parent: Any, leaf: Leaf) -> None:
    """Add this part's actions to the ``storage`` group: ``leaf(parent, name, help)``."""
    leaf(parent, "recycle-list", "what is in the recycle bin (JSON lines)")
    restore = leaf(parent, "recycle-restore", "put a recycle bin entry back")
    restore.add_argument("entry", type=int, help="the entry's id (recycle-list)")
    erase = leaf(parent, "recycle-erase", "erase what has been in the bin its keeping time")
    erase.add_argument("--all", action="store_true", help="erase everything in the bin now")


def run(args: argparse.Namespace, settings: Settings, engine: Engine) -> int | None:
    """Run ``args.action`` if it is this part's; None when it is another part's."""
    if args.action not in ACTIONS:
        return None
    from core_server import clock
    from core_server.archive import Archive
    from core_server.archive import recycle as bin_
    from core_server.events import EventBus
    from core_server.storage.recycle.service import RecycleBin

    bus = EventBus()
    service = RecycleBin(engine, Archive(engine, settings.storage_dir, bus), bus)
    if args.action == "recycle-list":
        keep = service.settings().keep_days
        for entry in bin_.entries(engine, limit=100_000):
            print(
                json.dumps(
                    {
                        "id": entry.id,
                        "level": entry.level,
                        "study_instance_uid": entry.study_instance_uid,
                        "instances": entry.instances,
                        "username": entry.username,
                        "reason": entry.reason,
                        "deleted_at": clock.iso(entry.deleted_at),
                        "erase_at": clock.iso(service.erase_at(entry, keep)),
                    },
                    ensure_ascii=False,
                )
            )
    elif args.action == "recycle-restore":
        entry = service.restore(args.entry, username="operator")
        print(json.dumps({"restored": entry.id, "instances": entry.instances}))
    else:
        erased = service.empty(username="operator") if args.all else service.erase_due()
        print(json.dumps({"erased": erased}))
    return 0
