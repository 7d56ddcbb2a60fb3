"""A full disk or database: writes answer a clear refusal (507, in the caller's language, as
JSON or as a page), nothing already stored is lost, and /healthz says degraded with the
reason; free space below the setting is reported before it comes to that."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy import event

from core_server import auth
from tests.conftest import ADMIN_PASSWORD, RunningCore


def _fill_the_database(core: RunningCore) -> None:
    """Let the SQLite file grow no more (its page limit at its size now), then use up the free
    room left in its pages: from here on every write that needs space fails as on a full disk
    (SQLITE_FULL, "database or disk is full"), from SQLite itself."""
    engine = core.core.engine

    def no_growth(dbapi_connection: Any, _record: Any) -> None:
        dbapi_connection.execute("PRAGMA max_page_count = 1")  # at least the current count

    event.listen(engine, "connect", no_growth)
    engine.dispose()  # every connection from now on has the limit
    for size in (2000, 200, 20, 0):  # smaller and smaller, until not even a small row fits
        for _ in range(10_000):
            try:
                auth.record_audit(
                    engine, username="filler", action="test.fill", detail={"x": "x" * size}
                )
            except Exception as exc:
                assert "full" in str(exc)
                break
        else:
            raise AssertionError("the database never filled up")


@pytest.fixture
def full(tmp_path: Path) -> Iterator[RunningCore]:
    running = RunningCore(tmp_path / "data").start()
    token = running.token()
    running.full_token = token  # type: ignore[attr-defined]
    try:
        _fill_the_database(running)
        yield running
    finally:
        running.stop()


def test_a_full_database_refuses_writes_clearly_and_health_says_why(full: RunningCore) -> None:
    sign_in = httpx.post(
        full.base_url + "/api/auth/token",
        data={"username": "admin", "password": ADMIN_PASSWORD},
        headers={"Accept-Language": "en"},
    )
    assert sign_in.status_code == 507
    assert sign_in.json()["detail"]["code"] == "web.storage.full"
    assert "storage is full" in sign_in.json()["detail"]["message"]
    bearer = {"Authorization": f"Bearer {full.full_token}"}  # type: ignore[attr-defined]
    write = httpx.post(
        full.base_url + "/api/modalities",
        json={"ae_title": "CT01", "host": "10.0.0.1", "port": 104},
        headers=bearer,
    )
    assert write.status_code == 507 and write.json()["detail"]["code"] == "web.storage.full"
    # What was stored is still there to read.
    assert httpx.get(full.base_url + "/api/auth/me", headers=bearer).status_code == 200
    # The login form answers with a page in the browser's language, not a stack trace.
    page = httpx.post(
        full.base_url + "/login",
        data={"username": "admin", "password": ADMIN_PASSWORD},
        headers={"Origin": full.base_url, "Accept": "text/html"},
    )
    assert page.status_code == 507 and "存储空间已满" in page.text and "<html" in page.text

    health = httpx.get(full.base_url + "/healthz")
    assert health.status_code == 200
    body = health.json()
    assert body["status"] == "degraded"
    assert [p["code"] for p in body["problems"]] == ["disk_full"]
    assert httpx.get(full.base_url + "/healthz", params={"strict": "true"}).status_code == 503


def test_low_disk_space_is_reported_before_it_runs_out(tmp_path: Path) -> None:
    core = RunningCore(tmp_path / "data", min_free_disk_mb=10**9).start()  # a petabyte
    try:
        body = httpx.get(core.base_url + "/healthz").json()
        assert body["status"] == "degraded"
        assert {p["code"] for p in body["problems"]} == {"disk_low"}
        assert body["problems"][0]["min_free_mb"] == 10**9
        with core.api() as admin:
            page = admin.get("/admin")
        assert page.status_code == 200 and 'data-problem="disk_low"' in page.text
    finally:
        core.stop()


def test_a_healthy_core_says_ok(core: RunningCore) -> None:
    body = httpx.get(core.base_url + "/healthz").json()
    assert body["status"] == "ok" and body["problems"] == []
    with core.api() as admin:
        page = admin.get("/admin")
    assert page.status_code == 200 and 'id="health"' in page.text and "运行正常" in page.text
