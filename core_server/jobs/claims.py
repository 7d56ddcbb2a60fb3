"""Rows a core process claims, and the one registry of them that the take-over goes through.

A claimed row names its process in ``claimed_by`` (:func:`~core_server.jobs.owners.this_process`)
and is in the table's claimed state (``running``, ``sending``, ``processing``) while that
process holds it. Every durable-job table (:class:`~core_server.jobs.Jobs`) is one of these;
so is any other claimed row (the inbound HL7 message being applied), made a :class:`Claims`
with what a dead holder's claim becomes. Each registers itself by its table's name when the
table is one of the core's (``db.metadata``), so :func:`registered` lists them all without a
list spelled out anywhere (a test checks that every core table with ``claimed_by`` is in it).
"""

from __future__ import annotations

from collections.abc import Callable, Collection
from datetime import datetime
from typing import Any

from sqlalchemy import Engine, Table, select, update

from core_server import clock, db
from core_server.cluster import nodes
from core_server.jobs import owners

# What a claim of a dead holder becomes, given the time of the release.
Released = Callable[[datetime], dict[str, Any]]

_registry: dict[str, Claims] = {}


class Claims:
    """The claimed rows of ``table`` (state ``claimed`` in ``status``, holder in
    ``claimed_by``) and the values a dead holder's claim is given (``released``)."""

    def __init__(self, table: Table, claimed: str, released: Released) -> None:
        self.table = table
        self.claimed = claimed
        self.released = released
        self.c = table.c
        if table.metadata is db.metadata:  # a test's own table stays out of the registry
            _registry[table.name] = self

    def release(self, engine: Engine, dead: Collection[str]) -> int:
        """The claims of the processes ``dead`` released (never a live one's: only rows still
        claimed by one of them change); how many."""
        if not dead:
            return 0
        with db.write(engine) as conn:
            return int(
                conn.execute(
                    update(self.table)
                    .where(self.c.status == self.claimed, self.c.claimed_by.in_(sorted(dead)))
                    .values(**self.released(clock.now()))
                ).rowcount
            )

    def release_gone(self, engine: Engine) -> int:
        """At start: the claims of this host's stopped processes (``owners.is_gone``) and of
        every registered process the database knows is dead (``cluster.nodes``), released at
        once instead of waiting out their leases."""
        with db.read(engine) as conn:
            holders = conn.execute(
                select(self.c.claimed_by)
                .where(self.c.status == self.claimed, self.c.claimed_by.is_not(None))
                .distinct()
            ).scalars()
            gone = {owner for owner in holders if owners.is_gone(owner)}
        return self.release(engine, gone | nodes.dead_owners(engine))


def registered() -> list[Claims]:
    """Every claimed table of the core that was imported, by table name."""
    return [_registry[name] for name in sorted(_registry)]
