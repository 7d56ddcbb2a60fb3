"""Logging to stderr (journald keeps it under systemd) with the program name."""

from __future__ import annotations

import logging
import os
import sys


def setup(program: str, level: str = "INFO") -> None:
    # Under systemd the journal adds the time itself.
    timestamp = "" if os.environ.get("JOURNAL_STREAM") else "%(asctime)s "
    logging.basicConfig(
        level=level.upper(),
        stream=sys.stderr,
        format=f"{timestamp}{program} %(levelname)s %(name)s: %(message)s",
        force=True,
    )
