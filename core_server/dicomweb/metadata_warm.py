"""WADO-RS metadata made ahead: each series' DICOM JSON is encoded into the metadata cache
(:mod:`core_server.dicomweb.metadata`) once the archive has stored nothing for a few seconds,
so a viewer's first ``/series/{uid}/metadata`` reads the cache instead of every file (a
600-slice CT: 0.7 s of CPU to encode, 0.05 s to read back; see docs/one-node.md).

Off the C-STORE path: storing only notes the series (a dict entry under a lock); the encoding
runs on this module's own thread, only while no object has been stored for
:data:`QUIET_SECONDS`, in chunks, and stops as soon as a new object arrives. What it misses (a
restart, a failed read) is encoded by the first request, as before.
"""

from __future__ import annotations

import logging
import threading
import time
from typing import Any

from sqlalchemy import Engine

from core_server.archive import Archive, InstanceFile, Level
from core_server.dicomweb.metadata import instances_json

log = logging.getLogger(__name__)
QUIET_SECONDS = 2.0  # no object stored for this long: the modality is done, for now
CHUNK = 50  # instances encoded (and cached in one transaction) between looks at new stores
TOPIC = "archive.instance_stored"


class MetadataWarmer:
    def __init__(self, engine: Engine, archive: Archive, quiet: float = QUIET_SECONDS) -> None:
        self.engine = engine
        self.archive = archive
        self.quiet = quiet
        self._series: dict[tuple[str, str], None] = {}  # (study, series) in arrival order
        self._last_store = 0.0
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="metadata-warmer", daemon=True)

    def start(self) -> None:
        self.archive.bus.subscribe(TOPIC, self._stored)
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        if self._thread.is_alive():
            self._thread.join(timeout=30)

    def _stored(self, _topic: str, payload: dict[str, Any]) -> None:
        """On the storing thread: note the series, nothing more."""
        key = (str(payload["study_instance_uid"]), str(payload["series_instance_uid"]))
        with self._lock:
            self._series[key] = None
            self._last_store = time.monotonic()

    def _quiet_for(self) -> float:
        with self._lock:
            return time.monotonic() - self._last_store

    def _run(self) -> None:
        while not self._stop.wait(0.5):
            if self._quiet_for() < self.quiet:
                continue
            with self._lock:
                key = next(iter(self._series), None)
                if key is None:
                    continue
                del self._series[key]
            try:
                finished = self.warm(*key)
            except Exception:  # the first request encodes it instead
                log.warning("metadata of series %s not made ahead", key[1], exc_info=True)
                continue
            if not finished:  # interrupted by a new object: again at the next quiet spell
                with self._lock:
                    self._series.setdefault(key, None)

    def warm(self, study: str, series: str) -> bool:
        """Encode the series' instances that are not cached yet; False when it gave way to a
        newly stored object (or to stopping) before the end."""
        files = self._online(study, series)
        for start in range(0, len(files), CHUNK):
            if self._stop.is_set() or self._quiet_for() < self.quiet:
                return False
            instances_json(self.engine, files[start : start + CHUNK])
        return True

    def _online(self, study: str, series: str) -> list[InstanceFile]:
        """The series' files that are on disk now: unlike :meth:`Archive.locate`, never a
        recall of objects moved off line (nobody asked to see them)."""
        keys = {"StudyInstanceUID": study, "SeriesInstanceUID": series}
        found = []
        for answer in self.archive.find(Level.IMAGE, keys):
            path = self.archive.storage.absolute(answer["_path"])
            if path.is_file():
                found.append(
                    InstanceFile(
                        answer["SOPClassUID"],
                        answer["SOPInstanceUID"],
                        answer["_transfer_syntax_uid"],
                        path,
                        answer["_size"],
                        study,
                    )
                )
        return found
