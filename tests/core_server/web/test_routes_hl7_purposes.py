"""What an HL7 destination is sent (its purposes) over the administration API and on the
administrator's page: exam status, reports and critical values; anything else is refused."""

from __future__ import annotations

from tests.conftest import RunningCore


def test_purposes_offered_set_and_refused(core: RunningCore) -> None:
    with core.api() as admin:
        his = {"name": "HIS", "host": "127.0.0.1", "port": 2575}
        created = admin.post("/api/hl7/destinations", json=his)
        assert created.status_code == 201 and created.json()["purposes"] == "order_status"
        every = "order_status,results,critical_values"
        changed = admin.patch("/api/hl7/destinations/HIS", json={"purposes": every})
        assert changed.status_code == 200 and changed.json()["purposes"] == every
        ward = {**his, "name": "WARD", "purposes": "critical_values"}
        assert (
            admin.post("/api/hl7/destinations", json=ward).json()["purposes"] == "critical_values"
        )
        for wrong in ("alerts", "", "results,billing"):
            refused = admin.patch("/api/hl7/destinations/HIS", json={"purposes": wrong})
            assert (
                refused.status_code == 422
                and "critical_values" in refused.json()["detail"]["message"]
            )
        assert admin.get("/api/hl7/destinations/HIS").json()["purposes"] == every
        described = admin.get("/api/openapi.json").json()["components"]["schemas"]["DestinationIn"]
        assert "critical_values" in described["properties"]["purposes"]["description"]
        page = admin.get("/admin/hl7")
    assert page.status_code == 200
    for purpose, label in (
        ("order_status", "检查状态"),
        ("results", "诊断报告"),
        ("critical_values", "危急值"),
    ):
        assert f'value="{purpose}"> {label}' in page.text
