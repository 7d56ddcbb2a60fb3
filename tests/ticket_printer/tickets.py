"""A ticket as POST /api/queueing/check-in returns it (docs/queue-api.md §6)."""

from __future__ import annotations

from typing import Any


def ticket(number: str = "CT016", **more: Any) -> dict[str, Any]:
    return {
        "ticket_id": 42,
        "number": number,
        "queue": "CT",
        "queue_name": "CT检查",
        "department": "放射科",
        "rooms": ["CT一室"],
        "hospital_name": "某某市人民医院",
        "name": "张*三",
        "exam": "胸部CT平扫",
        "accession": "A2026112900015",
        "priority": None,
        "waiting_ahead": 4,
        "issued_at": "2026-11-29T08:00:00+08:00",
        "qr_text": "A2026112900015",
        "new": True,
        **more,
    }
