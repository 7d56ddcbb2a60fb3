"""Disc jobs over REST on a running core, both backends: the state machine as a kiosk walks
it, refusals (never a 500), cancel seen by the kiosk as 409, retry, audit rows and fees."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

import httpx

from core_server import auth
from tests.conftest import RunningCore
from tests.core_server.discs.conftest import Desk, desk_on


def _code(answer: httpx.Response) -> str:
    return str(answer.json()["detail"]["code"])


def test_a_job_walks_its_steps_and_is_audited(fee_core: RunningCore) -> None:
    desk = desk_on(fee_core)
    kiosk = desk.kiosk("kiosk-hall")
    exam = desk.exam("P100")
    answer = desk.registrar.post(
        "/api/discs", json={"exam_ids": [exam], "copies": 2, "device": "kiosk-hall"}
    )
    assert answer.status_code == 201, answer.text
    job = answer.json()
    assert job["state"] == "queued" and job["device"] == "kiosk-hall"
    assert job["requested_by"] == "li.registrar" and job["copies"] == 2
    assert job["created_at"].endswith("+08:00") and job["steps"][0]["state"] == "queued"

    claimed = kiosk.post("/api/discs/claim")
    assert claimed.status_code == 200 and claimed.json()["state"] == "building"
    assert claimed.json()["lease_until"] is not None
    assert kiosk.post("/api/discs/claim").status_code == 204  # nothing else queued

    path = f"/api/discs/{job['id']}/progress"
    for body in (
        {"state": "burning", "disc": 1, "discs": 2},
        {"state": "labelling", "disc": 1, "discs": 2},
        {"state": "burning", "disc": 2, "discs": 2},
        {"state": "done", "discs": 2, "message": "ok"},
    ):
        step = kiosk.post(path, json=body)
        assert step.status_code == 200, step.text
    done = desk.registrar.get(f"/api/discs/{job['id']}").json()
    assert done["state"] == "done" and done["discs_done"] == 2
    assert done["fee_per_disc_fen"] == 550 and done["fee_fen"] == 1100
    assert [s["state"] for s in done["steps"]] == [
        "queued", "building", "burning", "labelling", "burning", "done"
    ]  # fmt: skip
    assert done["steps"][2]["message"] == "1/2" and done["steps"][-1]["by"] == "device-kiosk-hall"
    # Done is final: no further step, no cancel.
    assert _code(kiosk.post(path, json={"state": "burning"})) == "discs.not_holder"
    assert _code(desk.registrar.post(f"/api/discs/{job['id']}/cancel")) == "discs.not_cancellable"

    _, events = auth.query_audit(fee_core.core.engine, target=f"disc_job:{job['id']}")
    by_action = {e.action: e for e in events}
    assert by_action["discs.queue"].username == "li.registrar"
    assert by_action["discs.queue"].detail["exam_ids"] == [exam]
    assert by_action["discs.queue"].detail["copies"] == 2
    assert by_action["discs.done"].detail == {"copies": 2, "discs_used": 2, "fee_fen": 1100}
    assert desk.registrar.get("/api/discs?state=done").json()[0]["id"] == job["id"]
    assert desk.registrar.get("/api/discs?state=queued").json() == []


def test_refusals_are_answers_never_500(desk: Desk) -> None:
    kiosk, other = desk.kiosk("kiosk-a"), desk.kiosk("kiosk-b")
    exam, someone_else = desk.exam("P200"), desk.exam("P201", "李^娜")
    r = desk.registrar
    cases = [
        (r.post("/api/discs", json={"exam_ids": [exam], "copies": 4}), 422, None),
        (r.post("/api/discs", json={"exam_ids": [], "copies": 1}), 422, None),
        (r.post("/api/discs", json={"exam_ids": [999999]}), 404, "discs.exam_not_found"),
        (
            r.post("/api/discs", json={"exam_ids": [exam, someone_else]}),
            422,
            "discs.mixed_patients",
        ),
        (
            r.post("/api/discs", json={"exam_ids": [exam], "device": "nope"}),
            422,
            "discs.unknown_kiosk",
        ),
        (r.get("/api/discs/424242"), 404, "discs.job_not_found"),
        (r.get("/api/discs?state=bogus"), 422, "discs.state_unknown"),
        (r.post("/api/discs/claim"), 409, "discs.not_a_kiosk"),
    ]
    for answer, status, code in cases:
        assert answer.status_code == status, answer.text
        if code:
            assert _code(answer) == code
    # A kiosk's own job is for itself, whatever it names.
    job = kiosk.post("/api/discs", json={"exam_ids": [exam], "device": "kiosk-b"}).json()
    assert job["device"] == "kiosk-a" and job["requested_by"] == "device-kiosk-a"
    assert other.post("/api/discs/claim").status_code == 204  # not for kiosk-b
    assert other.get(f"/api/discs/{job['id']}").status_code == 404  # nor readable by it
    assert kiosk.post("/api/discs/claim").status_code == 200
    path = f"/api/discs/{job['id']}/progress"
    assert _code(kiosk.post(path, json={"state": "done"})) == "discs.illegal_step"
    assert _code(kiosk.post(path, json={"state": "flying"})) == "discs.state_unknown"
    assert _code(other.post(path, json={"state": "burning"})) == "discs.not_holder"
    assert kiosk.post(path, json={"state": "burning", "disc": 0}).status_code == 422
    assert _code(r.post(f"/api/discs/{job['id']}/retry")) == "discs.not_retryable"
    assert r.post(f"/api/discs/{job['id']}/progress", json={"state": "burning"}).status_code == 409
    # Staff only: a kiosk may not list or retry.
    assert kiosk.get("/api/discs").status_code == 403
    assert kiosk.post(f"/api/discs/{job['id']}/retry").status_code == 403


def test_cancel_while_burning_stops_the_kiosk_and_retry_queues_again(desk: Desk) -> None:
    kiosk = desk.kiosk("kiosk-c")
    exam = desk.exam("P300")
    job = desk.registrar.post("/api/discs", json={"exam_ids": [exam], "device": "kiosk-c"}).json()
    kiosk.post("/api/discs/claim").raise_for_status()
    path = f"/api/discs/{job['id']}/progress"
    assert kiosk.post(path, json={"state": "burning", "disc": 1, "discs": 1}).status_code == 200
    cancelled = desk.registrar.post(f"/api/discs/{job['id']}/cancel", json={"reason": "x"})
    assert cancelled.status_code == 200 and cancelled.json()["state"] == "cancelled"
    stopped = kiosk.post(path, json={"state": "done"})
    assert stopped.status_code == 409 and _code(stopped) == "discs.cancelled"
    assert desk.registrar.get(f"/api/discs/{job['id']}").json()["state"] == "cancelled"
    # Cancelling again is no error; retry queues it for a kiosk to claim afresh.
    assert desk.registrar.post(f"/api/discs/{job['id']}/cancel").status_code == 200
    again = desk.registrar.post(f"/api/discs/{job['id']}/retry").json()
    assert again["state"] == "queued" and again["holder"] is None
    assert kiosk.post("/api/discs/claim").json()["id"] == job["id"]
    assert kiosk.post(f"/api/discs/{job['id']}/cancel").json()["state"] == "cancelled"
    _, events = auth.query_audit(desk.core.core.engine, target=f"disc_job:{job['id']}")
    actions = [e.action for e in events]
    assert sorted(actions) == ["discs.cancel", "discs.cancel", "discs.queue", "discs.retry"]


def test_two_kiosks_never_take_one_job(desk: Desk) -> None:
    kiosks = [desk.kiosk(f"kiosk-{n}") for n in range(4)]
    exam = desk.exam("P400")
    ids = {
        desk.registrar.post("/api/discs", json={"exam_ids": [exam]}).json()["id"] for _ in range(6)
    }

    def take(client: httpx.Client) -> list[int]:
        got = []
        while (answer := client.post("/api/discs/claim")).status_code == 200:
            got.append(answer.json()["id"])
        assert answer.status_code == 204, answer.text
        return got

    with ThreadPoolExecutor(len(kiosks)) as pool:
        taken = [job for got in pool.map(take, kiosks) for job in got]
    assert sorted(taken) == sorted(ids)  # each job exactly once
    for job in desk.registrar.get("/api/discs").json():
        assert job["state"] == "building" and job["holder"].startswith("kiosk-")
