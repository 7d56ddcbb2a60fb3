"""The C-STORE rate on databases of different sizes (the ingest curve): pynetdicom sends new
studies to a core on each database, on one association, and the rate is instances per second.

Each measurement sends ``store`` new instances (CT 256x256, 128 kB, 4 studies of new patients)
after a warm-up of 20 in a study of its own; three rounds, the median kept. The rows the rounds
add are deleted afterwards so that the database stays as it was built (the files go with the
core's temporary data dir).
"""

from __future__ import annotations

import os
import statistics
import time
from typing import Any

import psycopg
from pydicom import Dataset
from pydicom.uid import generate_uid
from pynetdicom.sop_class import CTImageStorage

from bench.index_scale import run
from bench.procs import cpu_seconds
from tests.dicom_data import make_ct

ROOT = "1.2.826.0.1.3680043.8.498.165.9."  # the rounds' UIDs, deleted afterwards
ROUNDS = 3


def datasets(count: int, label: str) -> list[Dataset]:
    studies = 4
    out = []
    for s in range(studies):
        study, series = generate_uid(ROOT), generate_uid(ROOT)
        for n in range(count // studies):
            out.append(
                make_ct(
                    patient_id=f"ING{label}{s}", patient_name="WANG^XIAOMING=王^小明",
                    charset="ISO_IR 192", study_uid=study, series_uid=series,
                    sop_uid=generate_uid(ROOT), accession=f"ING{label}{s}",
                    instance_number=n + 1, size=256,
                )
            )  # fmt: skip
    return out


def curve(urls: dict[str, str], store: int, rounds: int = ROUNDS) -> dict[str, Any]:
    """The C-STORE rate on each database of ``urls`` (label -> URL), interleaved: round
    ``r`` measures every database before round ``r + 1`` starts, so that a change in the
    shared machine's load falls on all of them alike. A fresh core per measurement."""
    rates: dict[str, list[float]] = {label: [] for label in urls}
    cpu_ms: dict[str, list[float]] = {label: [] for label in urls}  # core CPU per instance
    errors: list[str] = []
    try:
        for r in range(rounds):
            for label, url in urls.items():
                with run.running_core(url) as core:
                    try:
                        rate, cpu = _measure(core, store, r)
                    except Exception as exc:  # a failed round must not lose the others
                        log = core.server.log_path.read_text(errors="replace")[-3000:]
                        errors.append(f"round {r} {label}: {exc!r}\n{log}")
                        print(f"  round {r} {label}: failed {exc!r}", flush=True)
                        continue
                rates[label].append(rate)
                cpu_ms[label].append(cpu)
                print(f"  round {r} {label}: {rate:.1f} instances/s", flush=True)
    finally:
        left = {label: _clean(url) for label, url in urls.items()}
    result: dict[str, Any] = {"sent_per_round": store, "rounds": rounds, "databases": {}}
    for label in urls:
        result["databases"][label] = {
            "index_instances": left[label],
            "rounds_instances_per_s": [round(x, 1) for x in rates[label]],
            "median_instances_per_s": _median(rates[label]),
            "median_core_cpu_ms_per_instance": _median(cpu_ms[label]),
        }
    result["load_average"] = [round(x, 2) for x in os.getloadavg()]
    result["errors"] = errors
    return result


def _median(values: list[float]) -> float | None:
    return round(statistics.median(values), 2) if values else None


def _measure(core: run.Core, store: int, r: int) -> tuple[float, float]:
    """(instances/s, core CPU ms per instance) of one measurement after its warm-up."""
    assert core.target is not None
    _send(core, datasets(20, f"W{r}"))
    batch = datasets(store, f"R{r}")
    cpu = cpu_seconds(core.target.pid)
    started = time.perf_counter()
    _send(core, batch)
    rate = len(batch) / (time.perf_counter() - started)
    return rate, 1000 * (cpu_seconds(core.target.pid) - cpu) / len(batch)


def _send(core: run.Core, batch: list[Dataset]) -> None:
    from pynetdicom import AE, evt

    from bench.measure import _nodelay

    assert core.target is not None
    ae = AE(ae_title="BENCH")
    ae.acse_timeout = ae.dimse_timeout = ae.network_timeout = 120
    ae.add_requested_context(CTImageStorage, "1.2.840.10008.1.2.1")
    assoc = ae.associate(
        core.target.host, core.target.port, ae_title=core.target.ae_title,
        evt_handlers=[(evt.EVT_CONN_OPEN, _nodelay)],
    )  # fmt: skip
    if not assoc.is_established:
        raise RuntimeError("the core refused the C-STORE association")
    try:
        for ds in batch:
            status = assoc.send_c_store(ds)
            if getattr(status, "Status", None) != 0x0000:
                raise RuntimeError(f"C-STORE failed: status {status!r}")
    finally:
        assoc.release()
        ae.shutdown()


def _clean(url: str) -> int:
    """Delete what the rounds stored; the instances left (the built index)."""
    like = ROOT + "%"
    with psycopg.connect(url.replace("postgresql+psycopg://", "postgresql://")) as conn:
        conn.execute(
            "DELETE FROM instances WHERE series_fk IN "
            "(SELECT id FROM series WHERE series_instance_uid LIKE %s)", (like,)
        )  # fmt: skip
        conn.execute("DELETE FROM series WHERE series_instance_uid LIKE %s", (like,))
        patients = [
            r[0]
            for r in conn.execute(
                "SELECT DISTINCT patient_fk FROM studies WHERE study_instance_uid LIKE %s",
                (like,),
            ).fetchall()
        ]
        conn.execute("DELETE FROM studies WHERE study_instance_uid LIKE %s", (like,))
        # The RIS put the sent studies on its reconciliation list (no exam matches them).
        conn.execute("DELETE FROM ris_unmatched_studies WHERE study_instance_uid LIKE %s", (like,))
        conn.execute("DELETE FROM patients WHERE id = ANY(%s)", (patients,))
        row = conn.execute("SELECT count(*) FROM instances").fetchone()
        conn.commit()
    return int(row[0]) if row else 0
