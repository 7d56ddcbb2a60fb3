"""``/metrics`` of a running core, parsed with prometheus_client's own parser after real
actions: a C-STORE through pynetdicom, HTTP requests, an HL7 job queued, a device enrolled.
The guard: anonymous 401, a wrong token 401, another role 403, the token or an admin 200."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from prometheus_client.parser import text_string_to_metric_families
from pydicom.uid import CTImageStorage

from core_server import auth
from core_server.queueing import devices
from tests.conftest import RunningCore
from tests.core_server.dicom.clients import associate, client_ae
from tests.dicom_data import make_ct

TOKEN = "scrape-token-0123456789"


@pytest.fixture
def running(tmp_path: Path, database_url: str) -> Iterator[RunningCore]:
    running = RunningCore(tmp_path, database_url, metrics_token=TOKEN).start()
    try:
        yield running
    finally:
        running.stop()


def scrape(core: RunningCore) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    answer = httpx.get(core.base_url + "/metrics", headers={"Authorization": f"Bearer {TOKEN}"})
    assert answer.status_code == 200
    assert answer.headers["content-type"].startswith("text/plain")
    samples = {}
    for family in text_string_to_metric_families(answer.text):
        for s in family.samples:
            samples[(s.name, tuple(sorted(s.labels.items())))] = s.value
    return samples


def value(samples: dict, name: str, **labels: str) -> float:
    return samples.get((name, tuple(sorted(labels.items()))), 0.0)


def test_metrics_follow_real_actions(running: RunningCore) -> None:
    before = scrape(running)
    # A C-STORE through pynetdicom (the direct path serves storage).
    ae = client_ae()
    ae.add_requested_context(CTImageStorage)
    assoc = associate(ae, running)
    assert assoc.send_c_store(make_ct()).Status == 0x0000
    assoc.release()
    # An HL7 job queued to a destination that is not listening: it stays pending.
    hl7 = running.core.hl7
    hl7.add_destination(name="HIS", host="127.0.0.1", port=9, enabled=False)
    from core_server.hl7 import outbound

    outbound.enqueue(running.core.engine, "HIS", "MSH|^~\\&|PACS||HIS||20261201||ORM^O01|1|P|2.4\r")
    # A device program seen now, another never.
    devices.create_device(running.core.engine, "printer-1", "printer")
    devices.create_device(running.core.engine, "printer-2", "printer")
    devices.touch(running.core.engine, "device-printer-1")
    # HTTP requests on a route with a path parameter: counted under its template.
    with running.api() as admin:
        for _ in range(3):
            assert admin.get("/api/modalities/NOSUCH123").status_code == 404
    after = scrape(running)

    stored = ("pacs_instances_stored_total",)
    assert value(after, *stored, channel="dimse", outcome="stored") == (
        value(before, *stored, channel="dimse", outcome="stored") + 1
    )
    assert value(after, "pacs_stored_bytes_total", channel="dimse") > value(
        before, "pacs_stored_bytes_total", channel="dimse"
    )
    assert value(after, "pacs_dicom_associations_total", path="direct") == (
        value(before, "pacs_dicom_associations_total", path="direct") + 1
    )
    assert value(after, "pacs_dicom_associations_active") == 0
    assert value(after, "pacs_queue_jobs", queue="hl7_outbound", status="pending") == 1
    assert value(after, "pacs_queue_jobs", queue="report_output", status="pending") == 0
    assert value(after, "pacs_queue_oldest_pending_age_seconds", queue="hl7_outbound") >= 0
    assert value(after, "pacs_devices", state="online") == 1
    assert value(after, "pacs_devices", state="offline") == 1
    route = [
        labels
        for (name, labels) in after
        if name == "pacs_http_request_duration_seconds_count"
        and ("route", "/api/modalities/{ae_title}") in labels
    ]
    assert route, "the route template labels the request times"
    assert all("NOSUCH123" not in str(k) for k in after), "a raw path never becomes a label"
    assert value(after, "pacs_database_size_bytes") > 0
    for area in ("storage", "data"):
        free = value(after, "pacs_disk_free_bytes", area=area)
        used = value(after, "pacs_disk_used_bytes", area=area)
        assert free > 0 and used > 0
        assert value(after, "pacs_disk_size_bytes", area=area) >= free + used - 1
    assert value(after, "pacs_process_resident_memory_bytes") > 0


def test_scrape_guard(running: RunningCore) -> None:
    url = running.base_url + "/metrics"
    assert httpx.get(url).status_code == 401
    assert httpx.get(url, headers={"Authorization": "Bearer wrong"}).status_code == 401
    assert httpx.get(url, headers={"Authorization": f"Bearer {TOKEN}"}).status_code == 200
    with running.api() as admin:  # a signed-in admin needs no scrape token
        assert admin.get("/metrics").status_code == 200
    auth.create_user(running.core.engine, "reg1", "Registrar-2026!", "registrar")
    with running.api("reg1", "Registrar-2026!") as registrar:
        answer = registrar.get("/metrics")
        assert answer.status_code == 403
        assert answer.json()["detail"]["code"] == "web.auth.forbidden"


def test_pynetdicom_associations_are_counted_open_and_closed(running: RunningCore) -> None:
    import time

    from pynetdicom.sop_class import StorageCommitmentPushModel  # type: ignore[attr-defined]

    before = scrape(running)
    ae = client_ae()
    ae.add_requested_context(StorageCommitmentPushModel)  # served by pynetdicom's path
    assoc = associate(ae, running)
    during = scrape(running)
    assoc.release()
    total = ("pacs_dicom_associations_total",)
    assert value(during, *total, path="pynetdicom") == value(before, *total, path="pynetdicom") + 1
    assert value(during, "pacs_dicom_associations_active") == 1
    for _ in range(50):  # the server sees the connection close a moment after the release
        if value(scrape(running), "pacs_dicom_associations_active") == 0:
            break
        time.sleep(0.1)
    assert value(scrape(running), "pacs_dicom_associations_active") == 0
