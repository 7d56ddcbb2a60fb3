"""Who holds a claim: ``host:pid:start:nonce``, and whether that process is gone.

A claim (a job being sent, an inbound HL7 message being applied) names its process so that a
restarted core can release what its predecessor held at once, instead of letting the sender's
retries meet "being processed" until the lease runs out. A process is gone when it ran on this
host and no process with its id and start time is alive (a container's core is often pid 1
after every restart: the start time tells them apart). A claim of another host is not judged
here: the database knows whether its process lives (``cluster.nodes``: the core registers
under this name and holds a lock while it lives), and failing that its lease decides.
"""

from __future__ import annotations

import os
import socket
import uuid
from functools import cache

_NONCE = uuid.uuid4().hex[:8]


def _host() -> str:
    return socket.gethostname().replace(":", "-")[:32]


def _start_time(pid: int) -> str | None:
    """The process's start time in clock ticks since boot (/proc), None when unknown."""
    try:
        with open(f"/proc/{pid}/stat", encoding="ascii", errors="replace") as stat:
            fields = stat.read().rsplit(")", 1)[1].split()
    except (OSError, IndexError):
        return None
    return fields[19] if len(fields) > 19 else None  # field 22; fields[0] is field 3


@cache
def this_process() -> str:
    """This process's name in claims (at most 64 characters)."""
    pid = os.getpid()
    return f"{_host()}:{pid}:{_start_time(pid) or 0}:{_NONCE}"[:64]


def is_gone(owner: str) -> bool:
    """Whether the process that made a claim has certainly stopped (see the docstring)."""
    parts = owner.split(":")
    if len(parts) < 4 or parts[0] != _host() or not parts[1].isdigit():
        return False
    if owner[: len(this_process())] == this_process():
        return False
    pid, started = int(parts[1]), parts[2]
    if pid == os.getpid():
        return True  # our pid, another start time or nonce: our predecessor
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return True
    except PermissionError:
        pass  # alive, someone else's
    now = _start_time(pid)
    return now is not None and started != "0" and now != started  # the pid was reused
