"""The statistics service: figures by name, their exports, the exam list behind them. It reads
the RIS, reporting, queueing and archive tables of the same database, and writes only its own
facts table (:mod:`.facts`), caught up with the histories right before every figure and exam
list (so none is stale) and on a ticker (so that catch-up is usually empty); every figure is
then one read transaction."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from sqlalchemy import Connection, Engine

from core_server import db
from core_server.periodic import Periodic
from core_server.statistics import export, facts, figures
from core_server.statistics.choices import choices
from core_server.statistics.exams import exam_list
from core_server.statistics.filters import Filters


def _no_jit(conn: Connection) -> None:
    """PostgreSQL compiles a query whose estimated cost passes ``jit_above_cost`` (every
    figure over a few thousand exams) before running it: 0.1-1 s spent to save less. A
    figure's read transaction turns that off for itself."""
    if conn.dialect.name == "postgresql":
        conn.exec_driver_sql("SET LOCAL jit = off")


# How often the ticker catches the facts up between figures (a catch-up is small then).
TICK_SECONDS = 30.0


class Statistics:
    def __init__(self, engine: Engine, hospital_name: str = "") -> None:
        self.engine = engine
        self.hospital_name = hospital_name
        self._ticker = Periodic("statistics-facts", TICK_SECONDS, self.catch_up, cluster=engine)

    def catch_up(self) -> int:
        """The facts table brought up to date with the histories (exams re-derived)."""
        return facts.catch_up(self.engine)

    def start(self) -> None:
        self._ticker.start()

    def stop(self) -> None:
        self._ticker.stop()

    def index(self) -> list[figures.Entry]:
        return figures.entries()

    def figure(self, name: str, filters: Filters, lang: str) -> dict[str, Any]:
        """The figure as the page and the API show it (see :class:`figures.Figure`)."""
        entry = figures.entry(name)
        self.catch_up()
        with db.read(self.engine) as conn:
            _no_jit(conn)
            return entry.build(conn, filters).as_dict(lang, filters)

    def excel(self, name: str, filters: Filters, lang: str) -> bytes:
        return export.excel(self.figure(name, filters, lang), lang)

    def pdf(self, name: str, filters: Filters, lang: str) -> bytes:
        return export.pdf(self.figure(name, filters, lang), lang, self.hospital_name)

    def choices(self, lang: str) -> dict[str, list[dict[str, Any]]]:
        with db.read(self.engine) as conn:
            return choices(conn, lang)

    def exams(self, filters: Filters, drill: Mapping[str, str], offset: int = 0) -> dict[str, Any]:
        self.catch_up()
        with db.read(self.engine) as conn:
            return exam_list(conn, filters, drill, offset)
