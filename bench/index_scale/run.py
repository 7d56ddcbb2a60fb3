"""Running the query set against a core on the filled database: the timings, then one pass
with ``auto_explain`` on for the plans (EXPLAIN ANALYZE, BUFFERS) of the core's own statements.
"""

from __future__ import annotations

import contextlib
import os
import re
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import psycopg
from pydicom import Dataset
from pynetdicom import AE, evt
from pynetdicom.sop_class import (
    ModalityWorklistInformationFind,
    PatientRootQueryRetrieveInformationModelFind,
    StudyRootQueryRetrieveInformationModelFind,
)

from bench.index_scale.cluster import PersistentCluster
from bench.index_scale.queries import Kind, figures, timed
from bench.index_scale.raw_find import RawFind
from bench.measure import _nodelay
from bench.procs import cpu_seconds
from bench.servers import BENCH_AE, HOST, CoreServer, Target

MODELS = {
    "patient": PatientRootQueryRetrieveInformationModelFind,
    "study": StudyRootQueryRetrieveInformationModelFind,
    "mwl": ModalityWorklistInformationFind,
}
PENDING = (0xFF00, 0xFF01)
ADMIN_PASSWORD = "index-scale-bench-1"


class Client:
    """The bench's side: one association (Patient/Study Root and MWL C-FIND) and an
    authenticated HTTP client, to a core at ``host``; ``raw``: the association is
    :class:`RawFind`'s (answers counted, not decoded), else pynetdicom's."""

    def __init__(
        self,
        host: str,
        dicom_port: int,
        ae_title: str,
        base_url: str,
        token: str,
        raw: bool = False,
    ):
        self.http = httpx.Client(
            base_url=base_url, headers={"Authorization": f"Bearer {token}"}, timeout=120
        )
        self.raw = (
            RawFind(host, dicom_port, BENCH_AE, ae_title, list(MODELS.values())) if raw else None
        )
        ae = AE(ae_title=BENCH_AE)
        ae.acse_timeout = ae.dimse_timeout = ae.network_timeout = 120
        for model in MODELS.values():
            ae.add_requested_context(model)
        self._ae = ae
        self.assoc = ae.associate(
            host,
            dicom_port,
            ae_title=ae_title,
            evt_handlers=[(evt.EVT_CONN_OPEN, _nodelay)],  # Nagle off, as the other benches
        )
        if not self.assoc.is_established:
            raise RuntimeError("the core refused the bench's association")

    def close(self) -> None:
        if self.raw is not None:
            self.raw.close()
        if self.assoc.is_established:
            self.assoc.release()
        self._ae.shutdown()
        self.http.close()

    def ask(self, kind: Kind, i: int) -> int:
        """Repetition ``i`` of ``kind``; the number of answers."""
        request = kind.make(i)
        if kind.service == "http":
            return self._get(*request)
        model, identifier = request
        return self._find(MODELS[model], identifier)

    def _find(self, model: str, identifier: Dataset) -> int:
        if self.raw is not None:
            return self.raw.find(identifier, model)
        found = 0
        for status, _ in self.assoc.send_c_find(identifier, model):
            code = getattr(status, "Status", None)
            if code in PENDING:
                found += 1
            elif code != 0x0000:
                raise RuntimeError(f"C-FIND failed: status {code!r}")
        return found

    def _get(self, path: str, params: dict[str, str]) -> int:
        answer = self.http.get(path, params=params)
        if answer.status_code == 204:
            return 0
        answer.raise_for_status()
        body = answer.json()
        return len(body["studies"]) if isinstance(body, dict) else len(body)


class Core:
    """``core-server serve`` on ``url``'s database, with the bench's :class:`Client`."""

    def __init__(self, url: str, work: Path, raw: bool = False) -> None:
        self.raw = raw
        self.server = CoreServer(work / "data", work / "core.log")
        # The database outlives the run and keeps the admin its first run created.
        self.server.password = ADMIN_PASSWORD
        self.url = url
        self.target: Target | None = None
        self.client: Client | None = None

    def start(self) -> None:
        os.environ["CORE_DATABASE_URL"] = self.url  # bench_env passes the environment on
        try:
            self.target = self.server.start(timeout=600)  # migrations on 10 M rows take time
        finally:
            os.environ.pop("CORE_DATABASE_URL", None)
        self.server.register(BENCH_AE, HOST, 11112)
        base = f"http://{HOST}:{self.server.http_port}"
        token = httpx.post(
            f"{base}/api/auth/token",
            data={"username": "admin", "password": self.server.password},
            timeout=60,
        )
        token.raise_for_status()
        self._base, self._token = base, token.json()["access_token"]
        self.reconnect()

    def reconnect(self) -> None:
        """A new association and HTTP client (the core drops an association idle for long:
        the DICOM kinds' plans are asked after the HTTP kinds' timings)."""
        assert self.target is not None
        if self.client is not None:
            with contextlib.suppress(Exception):
                self.client.close()
        self.client = Client(
            HOST, self.target.port, self.target.ae_title, self._base, self._token, raw=self.raw
        )

    def stop(self) -> None:
        if self.client is not None:
            self.client.close()
        self.server.stop()

    def ask(self, kind: Kind, i: int) -> int:
        assert self.client is not None
        return self.client.ask(kind, i)


@contextlib.contextmanager
def running_core(url: str, keep: Path | None = None, raw: bool = False) -> Iterator[Core]:
    with tempfile.TemporaryDirectory(prefix="index-scale-") as temporary:
        core = Core(url, keep or Path(temporary), raw=raw)
        try:
            core.start()
            yield core
        finally:
            core.stop()


def time_kinds(
    core: Core | Client, kinds: list[Kind], repetitions: int, time_limit: float, pid: int = 0
) -> dict[str, Any]:
    """p50/p95 of each kind over ``repetitions`` (at most ``time_limit`` s each), one untimed
    warm-up each; with the core's ``pid``, its CPU time per query (all threads: what the query
    costs the server, whatever else the machine runs)."""
    results: dict[str, Any] = {}
    for kind in kinds:
        try:
            core.ask(kind, -1)
            times, counts = [], []
            cpu_before = cpu_seconds(pid) if pid else 0.0
            deadline = time.monotonic() + time_limit
            for i in range(repetitions):
                if time.monotonic() > deadline:
                    break
                took, found = timed(lambda i=i, kind=kind: core.ask(kind, i))  # type: ignore[misc]
                times.append(took)
                counts.append(found)
            results[kind.name] = figures(times, counts, kind.goal_ms)
            if pid:
                cpu = cpu_seconds(pid) - cpu_before
                results[kind.name]["server_cpu_ms_per_query"] = round(1000 * cpu / len(times), 2)
        except Exception as exc:  # one failed kind must not hide the others' figures
            results[kind.name] = {"error": repr(exc)}
        print(f"  {kind.name:<36} {results[kind.name]}", flush=True)
    return results


_ENTRY = re.compile(r"^\d{4}-\d\d-\d\d [\d:.]+ \w+ \[\d+\] (?:\S+ )?(\w+):  (.*)$")
_MARK = "index-scale query: "
_TABLES = re.compile(r"\b(patients|studies|series|instances|ris_exams)\b")


def explain(
    cluster: PersistentCluster, core: Core | Client, kinds: list[Kind]
) -> dict[str, list[str]]:
    """Each kind asked once (repetition 0) with auto_explain on: the plans of the statements
    it sent on the index's tables, from the server log, between markers the bench logs."""
    start = cluster.log.stat().st_size
    cluster.set_explain(True)
    time.sleep(1.0)  # the reload reaches the pooled sessions
    try:
        with psycopg.connect(cluster.url("postgres", "postgresql"), autocommit=True) as conn:
            for kind in kinds:
                conn.execute(f"DO $$BEGIN RAISE LOG '{_MARK}{kind.name}'; END$$")
                try:
                    core.ask(kind, 0)
                except Exception:  # the association timed out while idle: once more
                    if isinstance(core, Core):
                        core.reconnect()
                    with contextlib.suppress(Exception):
                        core.ask(kind, 0)
                time.sleep(0.2)
            conn.execute(f"DO $$BEGIN RAISE LOG '{_MARK}end'; END$$")
    finally:
        cluster.set_explain(False)
    time.sleep(0.5)
    with cluster.log.open(encoding="utf-8", errors="replace") as log:
        log.seek(start)
        return _plans(log.read())


def _plans(text: str) -> dict[str, list[str]]:
    entries: list[list[str]] = []
    for line in text.splitlines():
        match = _ENTRY.match(line)
        if match:
            entries.append([match.group(2)])
        elif entries:
            entries[-1].append(line.strip("\t"))
    plans: dict[str, list[str]] = {}
    current: str | None = None
    for entry in entries:
        head = entry[0]
        if head.startswith(_MARK):
            current = head[len(_MARK) :]
            plans.setdefault(current, [])
        elif current and head.startswith("duration:") and "plan:" in head:
            body = "\n".join(entry[1:])
            if _TABLES.search(body):
                plans[current].append(f"{head}\n{body}")
    plans.pop("end", None)
    return plans
