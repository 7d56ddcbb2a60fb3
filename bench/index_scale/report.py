"""The bench's JSON as the Markdown tables and plan listings of ``docs/index-scale.md``.

.venv/bin/python -m bench.index_scale.report bench/results/index-10m.json > /tmp/plans.md
"""

from __future__ import annotations

import json
import re
import sys
from pathlib import Path
from typing import Any

_DURATION = re.compile(r"duration: ([\d.]+) ms")


def db_ms(plans: list[str]) -> float:
    """What the database spent on a kind's statements (auto_explain's durations)."""
    return round(sum(float(m.group(1)) for p in plans if (m := _DURATION.search(p))), 2)


def table(result: dict[str, Any]) -> str:
    rows = [
        "| query | p50 ms | p95 ms | goal p95 | met | answers | database ms | core CPU ms |",
        "|---|---:|---:|---:|:-:|---:|---:|---:|",
    ]
    for name, f in result["timings"].items():
        database = db_ms(result["plans"].get(name, []))
        if "error" in f:
            rows.append(f"| {name} | error: {f['error']} | | | | | | |")
            continue
        rows.append(
            f"| {name} | {f['p50_ms']} | {f['p95_ms']} | {f['goal_p95_ms']:.0f} | "
            f"{'yes' if f['met'] else 'no'} | {f['matches_mean']} | {database} | "
            f"{f.get('server_cpu_ms_per_query', '')} |"
        )
    return "\n".join(rows)


def _shortened(plan: str) -> str:
    """The plan without the statement's long column list (``SELECT a AS x, ...``)."""
    lines = plan.splitlines()
    out = []
    for line in lines:
        if line.startswith("Query Text: SELECT") and " AS " in line:
            line = "Query Text: SELECT ... (the columns)"
        out.append(line if len(line) <= 200 else line[:200] + " ...")
    return "\n".join(out)


def plans(result: dict[str, Any]) -> str:
    parts = []
    for name, listed in result["plans"].items():
        parts.append(f"#### {name}\n")
        for plan in listed:
            if "ris_exam_history" in plan:
                continue  # the exam-status feed's poll, which runs whatever is asked
            parts.append("```\n" + _shortened(plan) + "\n```\n")
    return "\n".join(parts)


def main() -> None:
    result = json.loads(Path(sys.argv[1]).read_text(encoding="utf-8"))
    print(table(result))
    print()
    print(plans(result))


if __name__ == "__main__":
    main()
