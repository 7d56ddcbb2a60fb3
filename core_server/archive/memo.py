"""Small memories the archive keeps in each process, one per database: bounded, oldest
forgotten first, safe to share between the association threads."""

from __future__ import annotations

import threading
import weakref
from collections import OrderedDict
from collections.abc import Callable, Hashable
from typing import Generic, TypeVar

from sqlalchemy import Engine

K = TypeVar("K", bound=Hashable)
V = TypeVar("V")
T = TypeVar("T")


class Memo(Generic[K, V]):
    """A bounded map; reading or writing a key makes it the newest."""

    def __init__(self, size: int = 4096) -> None:
        self._items: OrderedDict[K, V] = OrderedDict()
        self._size = size
        self._lock = threading.Lock()

    def get(self, key: K) -> V | None:
        with self._lock:
            return self._items.get(key)

    def put(self, key: K, value: V) -> None:
        with self._lock:
            self._items[key] = value
            self._items.move_to_end(key)
            while len(self._items) > self._size:
                self._items.popitem(last=False)

    def forget(self, key: K) -> None:
        with self._lock:
            self._items.pop(key, None)


class PerEngine(Generic[T]):
    """One ``make()`` per database (a process may open several, as the tests do), dropped with
    its engine."""

    def __init__(self, make: Callable[[], T]) -> None:
        self._make = make
        self._found: weakref.WeakKeyDictionary[Engine, T] = weakref.WeakKeyDictionary()
        self._lock = threading.Lock()

    def __call__(self, engine: Engine) -> T:
        with self._lock:
            found = self._found.get(engine)
            if found is None:
                found = self._found[engine] = self._make()
            return found
