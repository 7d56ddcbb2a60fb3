"""``core-server storage ...`` subcommands of the importing part."""

from __future__ import annotations

import argparse
from collections.abc import Callable
from typing import Any

from sqlalchemy import Engine

from core_server.settings import Settings

Leaf = Callable[[Any, str, str], argparse.ArgumentParser]


def add(parent: Any, leaf: Leaf) -> None:
    """Add this part's actions to the ``storage`` group: ``leaf(parent, name, help)``."""


def run(args: argparse.Namespace, settings: Settings, engine: Engine) -> int | None:
    """Run ``args.action`` if it is this part's; None when it is another part's."""
    return None
