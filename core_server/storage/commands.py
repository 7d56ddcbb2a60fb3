"""``core-server storage ...``: each lifecycle part adds its own actions."""

from __future__ import annotations

import argparse
from typing import Any

from sqlalchemy import Engine

from core_server.settings import Settings
from core_server.storage.compression import commands as compression
from core_server.storage.forwarding import commands as forwarding
from core_server.storage.importing import commands as importing
from core_server.storage.recycle import commands as recycle
from core_server.storage.tiers import commands as tiers

PARTS = (tiers, compression, forwarding, recycle, importing)


def add(parent: Any, leaf: Any) -> None:
    for part in PARTS:
        part.add(parent, leaf)


def run(args: argparse.Namespace, settings: Settings, engine: Engine) -> int:
    for part in PARTS:
        done = part.run(args, settings, engine)
        if done is not None:
            return done
    raise SystemExit(f"storage {args.action}: no part runs it")
