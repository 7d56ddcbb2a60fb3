"""The cloud film on both databases: a signed, time-limited link; nothing shown before the
check question is answered; expiry and revocation; the brake on wrong answers (slowed per link
and address, capped, never a lock-out)."""

from __future__ import annotations

from datetime import timedelta
from io import BytesIO

import httpx
import pytest
from PIL import Image

from core_server import auth, clock
from core_server.discs import cloud, cloud_check
from tests.core_server.discs.conftest import Desk
from tests.core_server.discs.test_cloud_data import FINDINGS, IMPRESSION, standard


def test_link_shows_nothing_before_the_check_and_everything_after(desk: Desk) -> None:
    core = desk.core
    p = standard(core, "P-CLOUD-1")
    engine = core.core.engine
    exams = [p.exams["signed"], p.exams["unsigned"]]
    url, expires = cloud.issue_link(engine, None, exams, public_url=core.base_url, by="li")
    assert url.startswith(core.base_url + "/c/")
    assert timedelta(days=29, hours=23) < expires - clock.now() <= timedelta(days=30)
    with httpx.Client() as browser:
        ask = browser.get(url)
        assert ask.status_code == 200
        for secret in ("王建国", p.patient_id, FINDINGS, "series/"):
            assert secret not in ask.text
        token = url.rsplit("/", 1)[1]
        series = f"{core.base_url}/c/{token}/series/{p.series['signed']}.jpg"
        pdf = f"{core.base_url}/c/{token}/reports/{p.exams['signed']}.pdf"
        assert browser.get(series).status_code == 404
        assert browser.get(pdf).status_code == 404
        wrong = browser.post(url, data={"answer": "19750310"})
        assert wrong.status_code == 200 and "王建国" not in wrong.text
        right = browser.post(url, data={"answer": "1975-03-09"}, follow_redirects=False)
        assert right.status_code == 303
        cookie = right.headers["set-cookie"]
        assert "HttpOnly" in cookie and f"Path=/c/{token}" in cookie
        film = browser.get(url)
        assert film.status_code == 200
        assert "王建国" in film.text and FINDINGS in film.text and IMPRESSION in film.text
        # The unsigned exam is not shown (the hospital does not allow images alone).
        assert film.text.count('class="cloud-exam"') == 1
        image = browser.get(series)
        assert image.headers["content-type"] == "image/jpeg"
        assert Image.open(BytesIO(image.content)).format == "JPEG"
        # Another patient's series is not reachable through this link.
        other = standard(core, "P-CLOUD-OTHER")
        assert (
            browser.get(
                f"{core.base_url}/c/{token}/series/{other.series['signed']}.jpg"
            ).status_code
            == 404
        )
        document = browser.get(pdf)
        assert document.status_code == 200 and document.content.startswith(b"%PDF")
        # A hold set afterwards hides the exam at once.
        desk.admin.put(
            f"/api/discs/release/{p.exams['signed']}", json={"released": False, "reason": "更正"}
        )
        assert FINDINGS not in browser.get(url).text
        assert browser.get(series).status_code == 404
    # The phone's last four digits open it too.
    with httpx.Client() as phone:
        assert phone.post(url, data={"answer": "5678"}).status_code == 303
    opened = auth.query_audit(engine, action="discs.cloud.opened")[1]
    failed = auth.query_audit(engine, action="discs.cloud.check_failed")[1]
    assert len(opened) == 2 and len(failed) == 1
    assert failed[0].detail == {"patient_id": p.patient_id}


def test_forged_expired_and_revoked_links_show_nothing(
    desk: Desk, monkeypatch: pytest.MonkeyPatch
) -> None:
    core = desk.core
    p = standard(core, "P-CLOUD-2")
    engine = core.core.engine
    url, _ = cloud.issue_link(engine, 7, [p.exams["signed"]], public_url=core.base_url, days=2)
    # The same job's manifest fetched again gives the same link.
    again, _ = cloud.issue_link(engine, 7, [p.exams["signed"]], public_url=core.base_url)
    assert again == url
    link_id, expiry, signature = url.rsplit("/", 1)[1].split(".")
    forged = [
        f"{link_id}.{int(expiry) + 86400}.{signature}",  # a longer life
        f"{int(link_id) + 1}.{expiry}.{signature}",
        f"{link_id}.{expiry}.{signature[:-2]}AA",
        "garbage",
    ]
    for token in forged:
        page = httpx.get(f"{core.base_url}/c/{token}")
        assert page.status_code == 404 and "王建国" not in page.text
    with httpx.Client() as browser:
        browser.post(url, data={"answer": "19750309"})
        assert "王建国" in browser.get(url).text
        real_now = clock.now
        monkeypatch.setattr(clock, "now", lambda: real_now() + timedelta(days=2, seconds=1))
        gone = browser.get(url)
        assert gone.status_code == 410 and "王建国" not in gone.text
        assert "已过期" in gone.text or "expired" in gone.text
        with pytest.raises(cloud.LinkClosed) as closed:
            cloud.open_link(engine, url.rsplit("/", 1)[1])
        assert closed.value.code == "discs.cloud.expired"
        monkeypatch.setattr(clock, "now", real_now)
        assert "王建国" in browser.get(url).text
        links = desk.admin.get("/api/discs/links", params={"job_id": 7}).json()
        assert [(x["id"], x["state"], x["exam_ids"]) for x in links] == [
            (int(link_id), "active", [p.exams["signed"]])
        ]
        assert desk.registrar.get("/api/discs/links").status_code == 403
        assert desk.registrar.post(f"/api/discs/links/{link_id}/revoke").status_code == 403
        revoked = desk.admin.post(f"/api/discs/links/{link_id}/revoke")
        assert revoked.status_code == 200 and revoked.json()["state"] == "revoked"
        assert revoked.json()["revoked_by"] == "admin"
        after = browser.get(url)
        assert after.status_code == 410 and "王建国" not in after.text
        assert "撤销" in after.text or "withdrawn" in after.text
        token = url.rsplit("/", 1)[1]
        assert (
            browser.get(f"{core.base_url}/c/{token}/series/{p.series['signed']}.jpg").status_code
            == 404
        )
    assert desk.admin.post("/api/discs/links/999999/revoke").status_code == 404
    revokes = auth.query_audit(engine, action="discs.cloud.revoke")[1]
    assert [(e.username, e.target) for e in revokes] == [("admin", f"cloud_link:{link_id}")]
    # A revoked job link is not handed out again: a new one is made.
    fresh, _ = cloud.issue_link(engine, 7, [p.exams["signed"]], public_url=core.base_url)
    assert fresh != url and httpx.get(fresh).status_code == 200


def test_wrong_answers_slow_down_but_never_lock_out(
    desk: Desk, monkeypatch: pytest.MonkeyPatch
) -> None:
    core = desk.core
    p = standard(core, "P-CLOUD-3")
    engine = core.core.engine
    url, _ = cloud.issue_link(engine, None, [p.exams["signed"]], public_url=core.base_url)
    link = cloud.open_link(engine, url.rsplit("/", 1)[1])
    start = clock.now()
    moment = [start]
    monkeypatch.setattr(clock, "now", lambda: moment[0])

    def later(seconds: float) -> None:
        moment[0] = moment[0] + timedelta(seconds=seconds)

    # Three wrong answers from one address are free; then each waits twice as long.
    for _ in range(3):
        assert cloud_check.answer(engine, link, "0000", "10.1.1.1").ok is False
    with pytest.raises(cloud_check.CheckThrottled) as slowed:
        cloud_check.answer(engine, link, "19750309", "10.1.1.1")
    assert slowed.value.retry_after == 2
    # Not checked while slowed: the right answer above was not let through or recorded.
    assert len(auth.query_audit(engine, action="discs.cloud.opened")[1]) == 0
    # Another address is not slowed by the first one's failures.
    assert cloud_check.answer(engine, link, "1111", "10.2.2.2").ok is False
    waits = []
    for _ in range(8):
        wait = cloud_check.retry_after(engine, link, "10.1.1.1")
        waits.append(round(wait))
        later(wait)
        assert cloud_check.answer(engine, link, "0000", "10.1.1.1").ok is False
    assert waits == [2, 4, 8, 16, 32, 60, 60, 60]  # doubling, capped at a minute
    # 12 failures on the link: a fresh address is slowed too (guessing from many addresses).
    assert cloud_check.retry_after(engine, link, "10.3.3.3") > 0
    assert cloud_check.retry_after(engine, link, "10.3.3.3") <= 60
    # The patient, at worst a minute later, gets in with the right answer.
    later(60)
    opened = cloud_check.answer(engine, link, "19750309", "10.1.1.1")
    assert opened.ok and opened.pass_key
    assert cloud_check.has_pass(engine, link, opened.pass_key)
    assert not cloud_check.has_pass(engine, link, "not-the-key")
    assert cloud_check.retry_after(engine, link, "10.1.1.1") == 0
    later(cloud_check.PASS_HOURS * 3600 + 1)
    assert not cloud_check.has_pass(engine, link, opened.pass_key)  # the pass ends
    assert len(auth.query_audit(engine, action="discs.cloud.check_failed", limit=100)[1]) == 12


def test_slowed_page_says_when_to_try_again(desk: Desk) -> None:
    core = desk.core
    p = standard(core, "P-CLOUD-4")
    url, _ = cloud.issue_link(core.core.engine, None, [p.exams["signed"]], public_url=core.base_url)
    with httpx.Client(headers={"Accept-Language": "en"}) as browser:
        for _ in range(3):
            assert browser.post(url, data={"answer": "1234"}).status_code == 200
        slowed = browser.post(url, data={"answer": "19750309"})
        assert slowed.status_code == 429
        assert slowed.headers["retry-after"] == "2"
        assert "try again in 2 seconds" in slowed.text
        assert "王建国" not in slowed.text


def test_a_disc_jobs_manifest_carries_one_working_link(desk: Desk) -> None:
    core = desk.core
    p = standard(core, "P-CLOUD-5")
    job = desk.registrar.post("/api/discs", json={"exam_ids": [p.exams["signed"]], "copies": 1})
    assert job.status_code == 201, job.text
    path = f"/api/discs/{job.json()['id']}/manifest"
    first, second = desk.registrar.get(path).json(), desk.registrar.get(path).json()
    assert first["qr_url"].startswith(core.base_url + "/c/")  # the core's own address
    assert second["qr_url"] == first["qr_url"] and first["qr_expires"].endswith("+08:00")
    ask = httpx.get(first["qr_url"])
    assert ask.status_code == 200 and "王建国" not in ask.text
    links = desk.admin.get("/api/discs/links", params={"job_id": job.json()["id"]}).json()
    assert [x["exam_ids"] for x in links] == [[p.exams["signed"]]]
