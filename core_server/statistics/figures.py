"""The one shape of every statistics figure, and the registry the figure modules fill.

A figure is a table (named columns, one dict per row, an optional totals row) with a chart
that draws some of its columns, and for each row the dimensions a click on it narrows the
exam list to (``drill``). The page, its JSON, its Excel file and its PDF are all drawn from
one :class:`Figure`, so their numbers agree by construction.

A module adds a figure with ``@figure("workload.technician", "statistics.figure....")``: a
function ``(conn, filters) -> Figure``. Texts (titles, column labels) are catalogue keys.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Literal

from sqlalchemy import Connection

from core_server import i18n
from core_server.refusals import NotFound
from core_server.statistics.filters import Filters

Kind = Literal["text", "count", "percent", "money", "minutes", "hours"]


@dataclass(frozen=True)
class Column:
    key: str
    label: str  # catalogue key
    kind: Kind = "count"


@dataclass(frozen=True)
class Chart:
    """``kind`` bar or line; the x axis is column ``x``, one series per column in ``series``."""

    kind: Literal["bar", "line"]
    x: str
    series: tuple[str, ...]


@dataclass(frozen=True)
class Figure:
    name: str
    title: str  # catalogue key
    columns: tuple[Column, ...]
    rows: list[dict[str, Any]]
    chart: Chart | None = None
    totals: dict[str, Any] | None = None
    # Per row: the dimensions a click on it narrows the exam list to (same order as rows).
    drill: list[dict[str, str]] = field(default_factory=list)
    note: str = ""  # catalogue key: how the figure counts, shown under it

    def as_dict(self, lang: str, filters: Filters) -> dict[str, Any]:
        def t(key: str) -> str:
            return i18n.translate(lang, key)

        return {
            "name": self.name,
            "title": t(self.title),
            "filters": filters.as_params(),
            "columns": [{"key": c.key, "label": t(c.label), "kind": c.kind} for c in self.columns],
            "rows": self.rows,
            "totals": self.totals,
            "drill": self.drill,
            "chart": None
            if self.chart is None
            else {"kind": self.chart.kind, "x": self.chart.x, "series": list(self.chart.series)},
            "note": t(self.note) if self.note else "",
        }


Builder = Callable[[Connection, Filters], Figure]


@dataclass(frozen=True)
class Entry:
    name: str
    title: str  # catalogue key
    group: str  # the index page's section: volume, workload, quality, time, follow-up...
    build: Builder


_REGISTRY: dict[str, Entry] = {}


def figure(name: str, title: str, group: str) -> Callable[[Builder], Builder]:
    """Register ``(conn, filters) -> Figure`` under ``name``."""

    def register(build: Builder) -> Builder:
        if name in _REGISTRY:
            raise ValueError(f"statistics figure {name!r} registered twice")
        _REGISTRY[name] = Entry(name, title, group, build)
        return build

    return register


def entries() -> list[Entry]:
    return list(_REGISTRY.values())


def entry(name: str) -> Entry:
    found = _REGISTRY.get(name)
    if found is None:
        raise NotFound("statistics.unknown_figure", name=name)
    return found


def ratio(part: int, whole: int) -> float | None:
    """A percentage with one decimal, or None when there is nothing to divide by."""
    return round(100.0 * part / whole, 1) if whole else None
