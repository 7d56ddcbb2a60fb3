"""The in-process event bus: notifications with many subscribers.

A subscriber's error is logged and never reaches the publisher (after pynetdicom's
notification events). Several core processes will carry this over PostgreSQL LISTEN/NOTIFY.
"""

from __future__ import annotations

import logging
import threading
from collections import defaultdict
from collections.abc import Callable
from typing import Any

log = logging.getLogger(__name__)

Subscriber = Callable[[str, dict[str, Any]], None]


class EventBus:
    def __init__(self) -> None:
        self._subscribers: dict[str, list[Subscriber]] = defaultdict(list)
        self._lock = threading.Lock()

    def subscribe(self, topic: str, subscriber: Subscriber) -> None:
        with self._lock:
            self._subscribers[topic].append(subscriber)

    def publish(self, topic: str, payload: dict[str, Any]) -> None:
        with self._lock:
            subscribers = list(self._subscribers[topic])
        for subscriber in subscribers:
            try:
                subscriber(topic, payload)
            except Exception:
                log.exception("subscriber %r failed on %s", subscriber, topic)
