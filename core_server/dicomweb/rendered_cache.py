"""Caches for rendered frames (:mod:`core_server.dicomweb.rendering`), both bounded by bytes and
keyed by the file's path, size and modification time (a rewritten object is a new key):

- the encoded image per frame and rendering parameters: a viewer showing a series again, or
  several viewers the same study, gets the same JPEG without decoding or encoding;
- the decoded frame with its header: a viewer changing the window of the frame it shows
  re-renders from the decoded stored values, without reading and decoding the file again.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Callable, Hashable
from typing import Generic, TypeVar

Value = TypeVar("Value")
IMAGES_BYTES = 64 << 20  # encoded images kept (a 512x512 CT JPEG: 50-250 kB)
FRAMES_BYTES = 128 << 20  # decoded frames kept (a 512x512 16-bit CT frame: 512 kB)


class ByteBudget(Generic[Value]):
    """A least-recently-used map holding at most ``budget`` bytes of values (as ``size`` counts
    them); a value larger than a quarter of the budget is not kept."""

    def __init__(self, budget: int, size: Callable[[Value], int]) -> None:
        self.budget = budget
        self._size = size
        self._items: OrderedDict[Hashable, tuple[Value, int]] = OrderedDict()
        self._used = 0
        self._lock = threading.Lock()

    def get(self, key: Hashable) -> Value | None:
        with self._lock:
            found = self._items.get(key)
            if found is None:
                return None
            self._items.move_to_end(key)
            return found[0]

    def put(self, key: Hashable, value: Value) -> None:
        size = self._size(value)
        if size > self.budget // 4:
            return
        with self._lock:
            old = self._items.pop(key, None)
            if old is not None:
                self._used -= old[1]
            self._items[key] = (value, size)
            self._used += size
            while self._used > self.budget:
                _key, (_value, dropped) = self._items.popitem(last=False)
                self._used -= dropped

    def clear(self) -> None:
        with self._lock:
            self._items.clear()
            self._used = 0

    def __len__(self) -> int:
        return len(self._items)
