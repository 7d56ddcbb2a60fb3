"""``core-server storage forwarding ...`` (docs/storage-forwarding.md), for the operator:

- ``storage forwarding list [--tasks STATUS] [--destination ID]``: destinations (secrets
  only said to be set), rules and the queue's sizes and ages as JSON; with ``--tasks`` the
  newest tasks of that status (``all`` for every status) too;
- ``storage forwarding requeue TASK_ID``: try a dead (or waiting) task again now;
  ``storage forwarding requeue --dead [--destination ID]``: every dead task (of one
  destination);
- ``storage forwarding apply RULE_ID``: queue the stored objects the rule matches that its
  destination has not had. The running core's worker sends what is queued (within its round,
  10 s); this command only queues.
"""

from __future__ import annotations

import argparse
import json
from collections.abc import Callable
from dataclasses import asdict
from typing import Any

from sqlalchemy import Engine

from core_server.archive import Archive
from core_server.refusals import Refusal
from core_server.settings import Settings
from core_server.storage.forwarding import config, queue

Leaf = Callable[[Any, str, str], argparse.ArgumentParser]
WHAT = ("list", "requeue", "apply")
LISTED = 100  # tasks listed with --tasks


def add(parent: Any, leaf: Leaf) -> None:
    """Add this part's actions to the ``storage`` group: ``leaf(parent, name, help)``."""
    acting = leaf(parent, "forwarding", "forwarding: list, re-queue tasks, apply a rule")
    acting.add_argument("what", choices=WHAT)
    acting.add_argument(
        "id", nargs="?", type=int, default=None, help="task (requeue), rule (apply)"
    )
    acting.add_argument("--dead", action="store_true", help="requeue: every dead task")
    acting.add_argument("--destination", type=int, default=None, help="only this destination")
    acting.add_argument("--tasks", default=None, help="list: tasks of this status (or all)")


def run(args: argparse.Namespace, settings: Settings, engine: Engine) -> int | None:
    """Run ``args.action`` if it is this part's; None when it is another part's."""
    if args.action != "forwarding":
        return None
    try:
        if args.what == "list":
            out = _listing(engine, args)
        elif args.what == "requeue":
            out = _requeue(engine, args)
        else:
            out = _apply(engine, settings, args)
    except Refusal as e:
        raise SystemExit(f"storage forwarding {args.what}: {e}") from None
    print(json.dumps(out, ensure_ascii=False, indent=2))
    return 0


def _listing(engine: Engine, args: argparse.Namespace) -> dict[str, Any]:
    if args.destination is not None:
        config.destination(engine, args.destination)  # an unknown id says so
    out: dict[str, Any] = {
        "destinations": [d.public() for d in config.destinations(engine)],
        "rules": [asdict(r) for r in config.rules(engine)],
        "queue": queue.sizes(engine),
    }
    if args.tasks is not None:
        status = "" if args.tasks == "all" else args.tasks
        if status and status not in queue.STATES:
            raise SystemExit(f"--tasks: one of all, {', '.join(queue.STATES)}")
        out["tasks"] = queue.listed(
            engine, status=status, destination_id=args.destination, limit=LISTED
        )
    return out


def _requeue(engine: Engine, args: argparse.Namespace) -> dict[str, int]:
    if args.dead == (args.id is not None):
        raise SystemExit("storage forwarding requeue: give a TASK_ID or --dead")
    if args.dead:
        if args.destination is not None:
            config.destination(engine, args.destination)
        return {"requeued": queue.requeue_dead(engine, args.destination)}
    if not queue.requeue(engine, args.id):
        raise SystemExit(f"storage forwarding requeue: no dead or waiting task {args.id}")
    return {"requeued": 1}


def _apply(engine: Engine, settings: Settings, args: argparse.Namespace) -> dict[str, int]:
    from core_server.storage.forwarding.service import Forwarding

    if args.id is None:
        raise SystemExit("storage forwarding apply: give the RULE_ID")
    archive = Archive(engine, settings.storage_dir)
    # Not started and not subscribed: it only matches and queues, in this process.
    service = Forwarding(engine, archive, archive.bus, ae_title=settings.ae_title, subscribe=False)
    return {"rule": args.id, "queued": service.apply_rule(args.id)}
