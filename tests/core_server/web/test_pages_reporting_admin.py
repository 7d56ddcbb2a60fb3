"""The reporting setup page ``/admin/reporting``: administrators only, Chinese first, with the
RIS's exam items and departments for its tables."""

from __future__ import annotations

import json
import re

from core_server import auth
from tests.conftest import RunningCore

PASSWORD = "password-123"


def test_only_administrators_open_it_in_both_languages(core: RunningCore) -> None:
    auth.create_user(core.core.engine, "zhang", PASSWORD, "reporting_doctor")
    with core.api("zhang", PASSWORD) as doctor:
        assert doctor.get("/admin/reporting").status_code == 403
    with core.api() as admin:
        page = admin.get("/admin/reporting")
        assert page.status_code == 200
        assert "<h1>报告设置</h1>" in page.text and "危急值未确认升级时间" in page.text
        assert 'href="/admin/reporting"' in page.text  # in the administrator's menu
        found = re.search(r'id="page-data">(.*?)</script>', page.text, re.S)
        assert found is not None
        data = json.loads(found.group(1))
        chest = next(p for p in data["procedures"] if p["code"] == "CT-CHEST")
        assert chest == {
            "code": "CT-CHEST",
            "name": "胸部CT平扫",
            "modality": "CT",
            "body_part": "CHEST",
        }
        assert {"code": "RAD", "name": "放射科"} in data["departments"]
        admin.cookies.set("lang", "en")
        english = admin.get("/admin/reporting").text
        assert "<h1>Reporting setup</h1>" in english and "CT chest, plain" in english
