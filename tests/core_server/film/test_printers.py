"""The printers and print jobs over REST in a running core: an administrator adds a printer,
asks it for its state (N-GET to a pynetdicom Print SCP), a bad setting is refused with its
catalogue code, a job whose sheet is not archived fails for good with SHEET_MISSING, the
page renders."""

from __future__ import annotations

import time

from tests.conftest import RunningCore
from tests.core_server.film.print_peers import OwnPrinter, own_printer


def _wait_status(client, job_id: int, status: str) -> dict:  # type: ignore[no-untyped-def]
    for _ in range(300):
        job = client.get(f"/api/film/jobs/{job_id}").json()
        if job["status"] == status:
            return dict(job)
        time.sleep(0.1)
    raise AssertionError(f"job {job_id} never became {status}: {job}")


def test_printers_and_jobs_over_rest(core: RunningCore) -> None:
    own = OwnPrinter()
    with own_printer(own) as port, core.api() as client:
        body = {"name": "激光相机 1", "ae_title": "OWNPRINTER", "host": "127.0.0.1", "port": port}
        created = client.post("/api/film/printers", json=body)
        assert created.status_code == 201, created.text
        printer = created.json()
        assert printer["default_medium"] == "BLUE FILM" and printer["status"] == ""
        bad = client.post("/api/film/printers", json={**body, "name": "x", "film_sizes": ["9X9"]})
        assert bad.status_code == 422 and bad.json()["detail"]["code"] == "film.film_size"
        taken = client.post("/api/film/printers", json=body)
        assert taken.json()["detail"]["code"] == "film.printer.name_taken"
        checked = client.post(f"/api/film/printers/{printer['id']}/check").json()
        assert (checked["status"], checked["status_info"]) == ("NORMAL", "NORMAL")
        assert [p["name"] for p in client.get("/api/film/printers").json()] == ["激光相机 1"]
        job = client.post("/api/film/jobs", json={"printer_id": printer["id"], "sheet_ids": [999]})
        assert job.status_code == 201, job.text
        failed = _wait_status(client, job.json()["id"], "dead")
        assert failed["reason"] == "SHEET_MISSING" and failed["attempts"] == 1
        again = client.post(f"/api/film/jobs/{failed['id']}/cancel").json()
        assert again["status"] == "cancelled"
        page = client.get("/film/printers")
        assert page.status_code == 200 and "/static/film/printers.js" in page.text
