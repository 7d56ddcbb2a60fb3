"""Screen states shaped like GET /api/queueing/screens/{code}/state (docs/queue-api.md §4)."""

from __future__ import annotations

from typing import Any


def screen_state(
    seq: int = 10, waiting: int = 3, call: bool = True, **screen: Any
) -> dict[str, Any]:
    return {
        "seq": seq,
        "screen": {
            "code": "1F",
            "name": "一楼候诊区",
            "orientation": "landscape",
            "page_seconds": 8,
            "rows": 4,
            **screen,
        },
        "hospital": {"name": "某某市人民医院", "logo_url": None},
        "fonts": {"title": 48, "header": 36, "list": 32, "call": 64, "clock": 28},
        "voice": {"enabled": True, "rate": 150},
        "queues": [
            {
                "code": "CT",
                "name": "CT检查",
                "department": "放射科",
                "rooms": [{"code": "CT1", "name": "CT一室", "state": "busy"}],
                "counts": {"waiting": waiting, "called": 1, "in_progress": 0, "missed": 1},
                "called": [
                    {
                        "ticket_id": 41,
                        "number": "CT015",
                        "name": "李*",
                        "status": "called",
                        "room": "CT1",
                        "room_name": "CT一室",
                    }
                ],
                "waiting": [
                    {
                        "ticket_id": 42 + i,
                        "number": f"CT{16 + i:03d}",
                        "name": "张*丰",
                        "priority": "emergency" if i == 0 else None,
                        "returned": False,
                    }
                    for i in range(waiting)
                ],
                "missed": [{"ticket_id": 39, "number": "CT012", "name": "欧**娜"}],
            }
        ],
        "current_call": (
            {
                "ticket_id": 41,
                "number": "CT015",
                "name": "李*",
                "queue": "CT",
                "room": "CT1",
                "room_name": "CT一室",
                "voice_text": "请CT015号李*到CT一室检查",
                "repeat": 2,
                "call_id": 77,
            }
            if call
            else None
        ),
    }
