"""The reporting pages as served: who may open them, the filters built from the RIS's exam
catalogue, the people's display names for the lock message, both languages. (The pages at
work are in ``tests/e2e/test_browser_reporting.py``.)"""

from __future__ import annotations

import json
import re

import httpx

from core_server import auth
from tests.conftest import RunningCore

PASSWORD = "password-123"


def _page_data(html: str) -> dict[str, object]:
    found = re.search(r'<script type="application/json" id="page-data">(.*?)</script>', html)
    assert found is not None
    return dict(json.loads(found.group(1)))


def test_who_opens_the_reporting_pages(core: RunningCore) -> None:
    engine = core.core.engine
    for username, role, name in (
        ("zhang", "reporting_doctor", "张医生"),
        ("wang", "reviewing_doctor", "王医生"),
        ("zhao", "clinician", "赵医生"),
        ("tech", "technician", "技师小刘"),
    ):
        auth.create_user(engine, username, PASSWORD, role, display_name=name)

    with core.api("zhang", PASSWORD) as doctor:
        page = doctor.get("/reporting")
        assert page.status_code == 200
        assert "检查所见" in page.text and "诊断意见" in page.text
        # Body parts and modalities come from the exam catalogue, labelled in Chinese.
        assert '<option value="CHEST">胸部</option>' in page.text
        assert '<option value="MR">MR</option>' in page.text
        data = _page_data(page.text)
        assert data["username"] == "zhang" and data["role"] == "reporting_doctor"
        # Display names (for 张医生正在编辑); the initial admin has none.
        assert data["names"] == {
            "zhang": "张医生",
            "wang": "王医生",
            "zhao": "赵医生",
            "tech": "技师小刘",
        }
        english = doctor.get("/reporting", headers={"Cookie": "lang=en"})
        assert "Findings" in english.text and '<option value="CHEST">Chest</option>' in english.text
        assert doctor.get("/critical-alerts").status_code == 200
        assert 'href="/reporting"' in page.text and 'href="/critical-alerts"' in page.text

    with core.api("zhao", PASSWORD) as clinician:
        assert clinician.get("/reporting").status_code == 403
        alerts = clinician.get("/critical-alerts")
        assert alerts.status_code == 200 and "确认" in alerts.text
        assert 'href="/reporting"' not in alerts.text

    with core.api("tech", PASSWORD) as technician:
        assert technician.get("/reporting").status_code == 403
        assert technician.get("/critical-alerts").status_code == 403

    answer = httpx.get(core.base_url + "/reporting", follow_redirects=False)
    assert answer.status_code == 303 and answer.headers["location"].startswith("/login?next=")
