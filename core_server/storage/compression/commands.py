"""``core-server storage compress [--dry-run] [--study UID]``: apply the compression rules now
(without the schedule's rate bound), or show what they would do."""

from __future__ import annotations

import argparse
import json
from collections.abc import Callable
from typing import Any

from sqlalchemy import Engine

from core_server.settings import Settings

Leaf = Callable[[Any, str, str], argparse.ArgumentParser]


def add(parent: Any, leaf: Leaf) -> None:
    """Add this part's actions to the ``storage`` group: ``leaf(parent, name, help)``."""
    compress = leaf(
        parent, "compress", "apply the compression rules now (docs/storage-compression.md)"
    )
    compress.add_argument("--dry-run", action="store_true", help="only count what would be done")
    compress.add_argument("--study", default="", help="only this Study Instance UID")


def run(args: argparse.Namespace, settings: Settings, engine: Engine) -> int | None:
    """Run ``args.action`` if it is this part's; None when it is another part's."""
    if args.action != "compress":
        return None
    from core_server.archive.storage import StorageArea
    from core_server.storage.compression.service import Compression

    service = Compression(engine, StorageArea(settings.storage_dir))
    from core_server.archive import recompress

    recompress.recover(engine, service.storage)
    done = service.compress_now(study=args.study, dry_run=args.dry_run)
    print(json.dumps({"dry_run": args.dry_run, **done}, ensure_ascii=False))
    return 0
