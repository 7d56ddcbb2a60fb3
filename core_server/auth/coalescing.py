"""Audit entries for things that come in storms (DICOM queries, QIDO searches, refused TLS
handshakes): at most one entry per key (who asked, and what) per window, the repeats counted
into the next entry written for that key. A worklist polled every 10 s with the same keys is
one entry a minute, not 360 an hour; a changed query is a new key and audited at once."""

from __future__ import annotations

import threading
import time


class Coalescer:
    """Per process (several core processes each write their own); ``size`` keys at most, the
    oldest forgotten first (a forgotten key is audited afresh, never silently dropped)."""

    def __init__(self, window: float = 60.0, size: int = 4096) -> None:
        self.window, self.size = window, size
        self._seen: dict[object, tuple[float, int]] = {}  # key -> (last written, repeats since)
        self._lock = threading.Lock()

    def admit(self, key: object) -> int | None:
        """None: within the window of the last entry for ``key`` (counted); else write one
        now, saying how many repeats it stands for (0 the first time)."""
        now = time.monotonic()
        with self._lock:
            last = self._seen.get(key)
            if last is not None and now - last[0] < self.window:
                self._seen[key] = (last[0], last[1] + 1)
                return None
            self._seen.pop(key, None)
            self._seen[key] = (now, 0)
            while len(self._seen) > self.size:
                self._seen.pop(next(iter(self._seen)))
            return 0 if last is None else last[1]
