"""Room states shaped like GET /api/queueing/rooms/{code}/state (docs/queue-api.md §5)."""

from __future__ import annotations

from typing import Any


def ticket(id: int, number: str, name: str, status: str = "waiting", **more: Any) -> dict[str, Any]:
    return {
        "id": id,
        "number": number,
        "queue": "CT",
        "status": status,
        "name": name,
        "masked_name": name[0] + "*",
        "sex": "M",
        "age": "45Y",
        "exam": "胸部CT平扫",
        "call_count": 1,
        "room": "CT1",
        **more,
    }


def room_state(seq: int = 10, current: bool = True, waiting: int = 3) -> dict[str, Any]:
    people = ["张三丰", "王小明", "赵六", "孙七", "周八", "吴九"]
    return {
        "seq": seq,
        "room": {
            "code": "CT1",
            "name": "CT一室",
            "state": "idle",
            "queues": ["CT"],
            "min_call_interval_seconds": 5,
        },
        "current": ticket(41, "CT015", "李四", "called") if current else None,
        "waiting_count": waiting,
        "waiting": [
            ticket(42 + i, f"CT{16 + i:03d}", people[i % len(people)]) for i in range(waiting)
        ],
        "missed": [ticket(39, "CT012", "欧阳娜娜", "missed", missed_count=1)],
    }
