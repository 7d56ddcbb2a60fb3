"""Overdue exams now (their current step past its target, in working hours where the
department says so) and the critical-value loop (flag to acknowledgement, over the limit
said so), on hand-made exams at times the test set; the targets' migration; both backends."""

from __future__ import annotations

from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext

from core_server import db
from core_server.statistics import Filters
from core_server.statistics import targets as target_rules
from core_server.statistics.overdue import overdue
from core_server.statistics.targets import Target
from core_server.statistics.workhours import WorkingHours
from tests.core_server.statistics import timeline as timelines
from tests.core_server.statistics.timeline import RESIDENT, Timeline, local

timeline = timelines.timeline  # the fixture

MONDAY = Filters.parse({"start": "2026-12-07", "end": "2026-12-07"})


def set_rules(line: Timeline, *extra: Target, hours: dict[str, str] | None = None) -> None:
    with db.write(line.engine) as conn:
        found = target_rules.rules(conn)
        target_rules.replace(
            conn,
            [*found.targets.values(), *extra],
            {d: WorkingHours.parse(r) for d, r in (hours or {}).items()},
        )


def listed(line: Timeline, now: str, **narrow: str) -> dict[str, tuple[str, float]]:
    with db.read(line.engine) as conn:
        answer = overdue(conn, local(now), **narrow)
    return {e["accession_number"]: (e["step"], e["over_minutes"]) for e in answer["exams"]}


def test_overdue_now_against_the_default_targets(timeline: Timeline) -> None:
    late = timeline.exam(  # emergency done 40 min before: 10 min over its 30
        "2026-12-07 09:00",
        arrived="2026-12-07 09:05",
        started="2026-12-07 09:10",
        completed="2026-12-07 09:20",
        emergency=True,
    )
    timeline.exam(  # routine done 2 h before: within its 24 h
        "2026-12-07 07:00",
        arrived="2026-12-07 07:05",
        started="2026-12-07 07:10",
        completed="2026-12-07 08:00",
    )
    old = timeline.exam(  # routine done yesterday morning, over midnight: 2 h over
        "2026-12-06 07:00",
        arrived="2026-12-06 07:05",
        started="2026-12-06 07:10",
        completed="2026-12-06 08:00",
    )
    timeline.exam(  # reported: waits for its signature, which has no target by default
        "2026-12-06 07:00",
        arrived="2026-12-06 07:05",
        started="2026-12-06 07:10",
        completed="2026-12-06 07:30",
        reported="2026-12-06 08:00",
    )
    waiting = timeline.exam("2026-12-07 09:00", arrived="2026-12-07 09:30")  # no start target
    accession = {i: timeline.ris.exam(i).accession_number for i in (late, old, waiting)}
    assert listed(timeline, "2026-12-07 10:00") == {
        accession[old]: ("report", 120.0),
        accession[late]: ("report", 10.0),
    }
    assert list(listed(timeline, "2026-12-07 10:00")) == [accession[old], accession[late]]
    set_rules(timeline, Target("RAD", "", "start", 15))
    assert listed(timeline, "2026-12-07 10:00")[accession[waiting]] == ("start", 15.0)
    assert listed(timeline, "2026-12-07 10:00", department="US") == {}
    assert listed(timeline, "2026-12-07 09:44") == {accession[old]: ("report", 104.0)}


def test_overdue_in_working_hours(timeline: Timeline) -> None:
    """US counts its report target (60 min) in working hours: done Friday 16:30, it is not
    overdue on Monday 08:15 (45 working minutes) and 15 min over at 08:45."""
    exam = timeline.exam(
        "2026-12-04 16:00",
        arrived="2026-12-04 16:05",
        started="2026-12-04 16:10",
        completed="2026-12-04 16:30",
        code="US-ABD",
    )
    set_rules(
        timeline,
        Target("US", "routine", "report", 60, working_hours=True),
        hours={"US": "1-5 08:00-12:00,13:00-17:00"},
    )
    accession = timeline.ris.exam(exam).accession_number
    assert listed(timeline, "2026-12-07 08:15") == {}
    assert listed(timeline, "2026-12-07 08:45") == {accession: ("report", 15.0)}
    with db.read(timeline.engine) as conn:
        (shown,) = overdue(conn, local("2026-12-07 08:45"))["exams"]
    assert shown["since"] == "2026-12-04T16:30:00+08:00" and shown["working_hours"] is True
    assert shown["patient_name"] == "王建国" and shown["priority"] == "routine"


def _critical(line: Timeline, raised: str, acknowledged: str | None, n: int) -> None:
    exam = line.exam(
        "2026-12-07 08:00",
        arrived="2026-12-07 08:05",
        started="2026-12-07 08:10",
        completed="2026-12-07 08:20",
    )
    line.at(raised)
    report = line.reporting.start(exam, RESIDENT)
    alert = line.reporting.raise_critical(report.id, RESIDENT, f"气胸 {n}")
    if acknowledged:
        line.at(acknowledged)
        line.reporting.acknowledge(alert.id, "dr.zhang", "已处理")


def test_critical_values_from_flag_to_acknowledgement(timeline: Timeline) -> None:
    _critical(timeline, "2026-12-07 09:00", "2026-12-07 09:10", 1)  # 10 min: within 15
    _critical(timeline, "2026-12-07 09:00", "2026-12-07 09:40", 2)  # 40 min: over
    _critical(timeline, "2026-12-07 09:30", None, 3)  # open 30 min at 10:00: over
    _critical(timeline, "2026-12-07 09:55", None, 4)  # open 5 min: not yet
    timeline.at("2026-12-07 10:00")
    figure = timeline.statistics.figure("time.critical", MONDAY, "en")
    (row,) = figure["rows"]
    assert row == {
        "department": "RAD",
        "alerts": 4,
        "acknowledged": 2,
        "open": 2,
        "median": 25.0,
        "p90": 37.0,
        "target": 15,
        "over": 2,
        "within": 50.0,
    }
    assert figure["totals"] == {"alerts": 4, "acknowledged": 2, "open": 2, "over": 2}
    assert figure["drill"][0] == {"department": "RAD", "critical_alert": "any"}
    drilled = timeline.statistics.exams(
        MONDAY.narrowed(department="RAD"), {"critical_alert": "any"}
    )
    assert drilled["total"] == 4

    listing = timeline.statistics.figure("time.critical_alerts", MONDAY, "zh")
    shown = [(r["minutes"], r["over"], r["state"]) for r in listing["rows"]]
    assert shown == [
        (10.0, "未超时", "已确认"),
        (40.0, "超时", "已确认"),
        (30.0, "超时", "未确认"),
        (5.0, "未超时", "未确认"),
    ]
    assert listing["rows"][0]["raised_at"] == "2026-12-07 09:00"
    one = timeline.statistics.exams(MONDAY, listing["drill"][1])
    assert one["total"] == 1


def test_the_migration_matches_the_tables_and_seeds_the_defaults(timeline: Timeline) -> None:
    with timeline.engine.connect() as conn:
        context = MigrationContext.configure(conn, opts={"compare_type": True})
        differences = [
            d for d in compare_metadata(context, db.metadata) if "statistics_" in repr(d)
        ]
        found = target_rules.rules(conn)
    assert differences == []
    assert found.target("RAD", "emergency", "report") == Target("", "emergency", "report", 30)
    assert found.target("US", "routine", "report") == Target("", "routine", "report", 1440)
    assert found.target("RAD", "routine", "critical_ack") == Target("", "", "critical_ack", 15)
    assert found.target("RAD", "routine", "sign") is None
