"""``core-server storage rules ...`` (docs/storage-rules.md):

- ``storage rules`` lists the rules as JSON;
- ``storage rules --dry-run [--rule ID]``: what each enabled rule (or the one named) would
  touch now: studies, objects, bytes and the first studies; nothing is changed;
- ``storage rules --run``: evaluate the rules and do their tasks now (idle hours lifted, the
  rate limits kept), as the admin page's "run now" does, in this process.
"""

from __future__ import annotations

import argparse
import json
from collections.abc import Callable
from typing import Any

from sqlalchemy import Engine

from core_server.archive import Archive
from core_server.refusals import Refusal
from core_server.settings import Settings
from core_server.storage.tiers import rules, schedule
from core_server.storage.tiers.runner import RulesRunner

Leaf = Callable[[Any, str, str], argparse.ArgumentParser]


def add(parent: Any, leaf: Leaf) -> None:
    acting = leaf(parent, "rules", "the lifecycle rules: list, dry run, run now")
    how = acting.add_mutually_exclusive_group()
    how.add_argument("--dry-run", action="store_true", help="what the rules would touch now")
    how.add_argument("--run", action="store_true", help="evaluate and do the tasks now")
    acting.add_argument("--rule", type=int, default=None, help="only this rule (its id)")
    acting.add_argument("--first", type=int, default=10, help="studies listed per rule")


def run(args: argparse.Namespace, settings: Settings, engine: Engine) -> int | None:
    if args.action != "rules":
        return None
    archive = Archive(engine, settings.storage_dir)
    runner = RulesRunner(engine, archive, archive.bus)
    try:
        chosen = [rules.get(engine, args.rule)] if args.rule else rules.listing(engine)
        if args.dry_run:
            out: Any = [
                {"rule": r.as_json(), "dry_run": runner.dry_run(r, args.first).as_json()}
                for r in chosen
                if r.enabled or args.rule
            ]
        elif args.run:
            made = runner.run_now()  # the idle hours lifted for this run
            done = runner.run_due(schedule.load(engine), urgent_only=False)
            schedule.set_run_now(engine, None)
            out = {"made": sum(made.values()), "done": done}
        else:
            out = [r.as_json() for r in chosen]
    except Refusal as e:
        raise SystemExit(f"storage rules: {e}") from None
    print(json.dumps(out, ensure_ascii=False, indent=2))
    return 0
