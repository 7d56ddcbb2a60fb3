"""The event bus: notifications with many subscribers.

A subscriber's error is logged and never reaches the publisher (after pynetdicom's
notification events).

Across core nodes (PostgreSQL, ``docs/cluster-state.md``): a subscriber made with
``remote=True`` is a *fan-out* subscriber (it tells people or devices: the WebSocket feed) and
also hears the topic when another node publishes it; every other subscriber is a *domain*
subscriber and hears only this node's events (forwarding, audit, HL7... already ran on the
node that published: they must not run twice). A topic crosses when it has a remote
subscriber: every node runs the same code, so the same topics cross everywhere. The relay
(:mod:`core_server.cluster.relay`) sets :attr:`EventBus.outward` and calls
:meth:`EventBus.deliver_remote`; without it (SQLite, one process) nothing changes.
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
        self._remote: dict[str, list[Subscriber]] = defaultdict(list)
        self._lock = threading.Lock()
        # Hands a crossing topic's event to the other nodes (the cluster relay), or None.
        self.outward: Callable[[str, dict[str, Any]], object] | None = None

    def subscribe(self, topic: str, subscriber: Subscriber, *, remote: bool = False) -> None:
        """``remote``: also hear ``topic`` when another node publishes it (fan-out only)."""
        with self._lock:
            self._subscribers[topic].append(subscriber)
            if remote:
                self._remote[topic].append(subscriber)

    def crosses(self, topic: str) -> bool:
        """Whether ``topic`` goes to the other nodes (it has a remote subscriber)."""
        with self._lock:
            return bool(self._remote.get(topic))

    def publish(self, topic: str, payload: dict[str, Any]) -> None:
        with self._lock:
            subscribers = list(self._subscribers[topic])
            crosses = bool(self._remote.get(topic))
        _call(subscribers, topic, payload)
        outward = self.outward
        if crosses and outward is not None:
            try:
                outward(topic, payload)
            except Exception:
                log.exception("event %s not relayed to the other nodes", topic)

    def deliver_remote(self, topic: str, payload: dict[str, Any]) -> None:
        """An event another node published: to the remote (fan-out) subscribers only."""
        with self._lock:
            subscribers = list(self._remote.get(topic, ()))
        _call(subscribers, topic, payload)


def _call(subscribers: list[Subscriber], topic: str, payload: dict[str, Any]) -> None:
    for subscriber in subscribers:
        try:
            subscriber(topic, payload)
        except Exception:
            log.exception("subscriber %r failed on %s", subscriber, topic)
