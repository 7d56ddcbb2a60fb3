"""The HL7 administration API over real HTTP, with the whole core running (its MLLP listener
on a free port): destinations, the inbound log, reprocessing, dead letters and retry."""

from __future__ import annotations

import httpx

from core_server.ris import Procedure
from tests.conftest import RunningCore, free_port
from tests.core_server.hl7.mllp import HisListener, ack_fields, message, send, wait_for
from tests.core_server.hl7.test_inbound import msh, pid, segment


def order(placer: str, procedure: str) -> bytes:
    return message(
        msh("ORM^O01", f"C{placer}", version="2.3.1"),
        pid("P300", "林^一"),
        segment("ORC", {1: "NW", 2: f"{placer}^HIS"}),
        segment("OBR", {1: "1", 2: f"{placer}^HIS", 4: procedure}),
    )


def test_healthz_waits_for_the_listener_and_names_its_port(core: RunningCore) -> None:
    body = httpx.get(core.base_url + "/healthz").json()
    assert body["listeners"]["hl7"] is True
    assert body["ports"]["hl7"] == core.settings.hl7_port


def test_only_administrators(core: RunningCore) -> None:
    with core.api() as admin:
        user = {"username": "reg2", "password": "first-pass-1", "role": "registrar"}
        assert admin.post("/api/users", json=user).status_code == 201
    with core.api("reg2", "first-pass-1") as registrar:
        for path in ("/api/hl7/messages", "/api/hl7/outbound", "/api/hl7/destinations"):
            assert registrar.get(path).status_code == 403


def test_destinations_inbound_log_and_reprocessing(core: RunningCore) -> None:
    port = core.settings.hl7_port
    with core.api() as admin:
        assert admin.get("/api/hl7/status").json()["listening"] is True
        his = {"name": "HIS", "host": "127.0.0.1", "port": 2575, "charset": "GB 18030-2000"}
        created = admin.post("/api/hl7/destinations", json=his)
        assert created.status_code == 201 and created.json()["status_message"] == "ORM"
        assert admin.post("/api/hl7/destinations", json=his).status_code == 409
        bad = {**his, "name": "X", "charset": "EBCDIC"}
        assert admin.post("/api/hl7/destinations", json=bad).status_code == 422
        changed = admin.patch("/api/hl7/destinations/HIS", json={"enabled": False})
        assert changed.status_code == 200 and changed.json()["enabled"] is False
        assert admin.patch("/api/hl7/destinations/NOPE", json={"port": 1}).status_code == 404

        # An order for an exam item the catalogue lacks: AE, logged, then put right.
        (answer,) = send(port, order("R1", "CT-NEW"))
        assert ack_fields(answer)["code"] == "AE"
        (logged,) = admin.get("/api/hl7/messages", params={"status": "error"}).json()
        assert logged["control_id"] == "CR1" and logged["message_type"] == "ORM^O01"
        detail = admin.get(f"/api/hl7/messages/{logged['id']}").json()
        assert "CT-NEW" in detail["text"] and "MSA|AE|CR1" in detail["ack"]
        core.core.ris.save_procedure(
            Procedure("CT-NEW", "新CT项目", "New CT item", "CT", "CHEST", "RAD"), username="t"
        )
        again = admin.post(f"/api/hl7/messages/{logged['id']}/reprocess")
        assert again.status_code == 200 and again.json()["status"] == "accepted"
        assert core.core.ris.order(placer_order_number="R1", placer_application="HIS").exams
        # Applied once: a second reprocess is refused, and a resend gets the new ACK.
        assert admin.post(f"/api/hl7/messages/{logged['id']}/reprocess").status_code == 409
        (resent,) = send(port, order("R1", "CT-NEW"))
        assert ack_fields(resent)["code"] == "AA"
        assert admin.get("/api/hl7/messages/999999").status_code == 404


def test_dead_letter_and_retry(core: RunningCore) -> None:
    his_port = free_port()
    with core.api() as admin:
        destination = {
            "name": "HIS",
            "host": "127.0.0.1",
            "port": his_port,
            "max_attempts": 1,
            "retry_base_seconds": 0.05,
        }
        assert admin.post("/api/hl7/destinations", json=destination).status_code == 201
        (answer,) = send(core.settings.hl7_port, order("D1", "CT-HEAD"))
        assert ack_fields(answer)["code"] == "AA"
        (dead,) = wait_for(lambda: admin.get("/api/hl7/dead-letters").json())  # type: ignore[misc]
        assert dead["destination"] == "HIS" and dead["attempts"] == 1 and dead["last_error"]
        assert admin.get("/api/hl7/status").json()["dead_letters"] == 1
        with HisListener(his_port) as his:
            retried = admin.post(f"/api/hl7/outbound/{dead['id']}/retry")
            assert retried.status_code == 200 and retried.json()["status"] == "pending"
            wait_for(
                lambda: admin.get(f"/api/hl7/outbound/{dead['id']}").json()["status"] == "sent"
            )
            assert len(his.messages) == 1
        assert admin.post(f"/api/hl7/outbound/{dead['id']}/retry").status_code == 409
        assert admin.post("/api/hl7/outbound/999999/retry").status_code == 404
        assert admin.delete("/api/hl7/destinations/HIS").status_code == 204


def test_allowed_senders(core: RunningCore) -> None:
    """The listener's allow-list from the page's API: loopback only until a sender is named;
    a refused sender's message is logged as refused and allowed in one step."""
    port = core.settings.hl7_port
    with core.api() as admin:
        assert admin.get("/api/hl7/status").json()["loopback_only"] is True
        bad = admin.post("/api/hl7/senders", json={"address": "not-an-ip"})
        assert bad.status_code == 422 and bad.json()["detail"]["code"] == "hl7.sender.address"
        assert admin.post("/api/hl7/senders", json={}).status_code == 422
        remote = admin.post("/api/hl7/senders", json={"address": "10.9.0.0/16", "note": "HIS"})
        assert remote.status_code == 201 and remote.json()["address"] == "10.9.0.0/16"
        try:
            assert (
                admin.post("/api/hl7/senders", json={"address": "10.9.0.0/16"}).status_code == 409
            )
            assert admin.get("/api/hl7/status").json()["loopback_only"] is False
            (answer,) = send(port, order("SND1", "CT-HEAD"))  # from 127.0.0.1: not listed now
            assert ack_fields(answer)["code"] == "AR"
            (refused,) = admin.get("/api/hl7/messages", params={"status": "refused"}).json()
            assert refused["sending_application"] == "HIS" and refused["control_id"] is None
            local = admin.post(
                "/api/hl7/senders",
                json={"address": "127.0.0.1", "sending_application": "HIS"},
            ).json()
            (again,) = send(port, order("SND1", "CT-HEAD"))
            assert ack_fields(again)["code"] == "AA"
            assert admin.delete(f"/api/hl7/senders/{local['id']}").status_code == 204
            assert admin.delete(f"/api/hl7/senders/{local['id']}").status_code == 404
        finally:
            for sender in admin.get("/api/hl7/senders").json():
                admin.delete(f"/api/hl7/senders/{sender['id']}")
        assert admin.get("/api/hl7/status").json()["loopback_only"] is True
