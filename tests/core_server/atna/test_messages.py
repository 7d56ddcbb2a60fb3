"""Every audit-trail action the core maps to ATNA becomes a message the DICOM standard's own
RELAX NG schema (PS3.15 A.5.1, validated by lxml/libxml2) accepts, with the codes of A.5.3."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from lxml import etree

from core_server.atna import codes, messages
from core_server.auth import AuditEvent

from .receiver import schema

SOURCE = messages.Source("pacs.example.cn", "CORE_AE", "某市人民医院")
CT = "1.2.840.10008.5.1.4.1.1.2"
STUDY = messages.Study("1.2.3.4", "P001", "WANG^JIANGUO=王^建国", "A2024001", {CT: 12})
ACTIONS = sorted(codes.EXACT) + [f"{p}x" for p in codes.FAMILIES]


def _event(action: str, target: str = "", **detail: object) -> AuditEvent:
    at = datetime(2024, 5, 6, 1, 2, 3, tzinfo=UTC)
    return AuditEvent(7, at, "doctor1", action, target, dict(detail), "10.0.0.5")


def _xml(event: AuditEvent, studies: list[messages.Study] | None = None) -> etree._Element:
    mapping = codes.mapping_of(event.action)
    assert mapping is not None
    return etree.fromstring(messages.build(event, mapping, SOURCE, studies or []))


@pytest.fixture(scope="module")
def rng() -> etree.RelaxNG:
    return schema()


@pytest.mark.parametrize("action", ACTIONS)
def test_every_mapped_action_is_valid_against_the_standard_schema(
    rng: etree.RelaxNG, action: str
) -> None:
    targets = {"user.": "user:nurse2", "modality.": "modality:CT1", "ris.patient": "patient:P9"}
    target = next((t for p, t in targets.items() if action.startswith(p)), "study:1.2.3.4")
    xml = _xml(_event(action, target, reason="password", query="王*"), [STUDY])
    assert rng.validate(xml), rng.error_log
    mapping = codes.mapping_of(action)
    assert mapping is not None
    assert xml.find("EventIdentification/EventID").get("csd-code") == mapping.event.code


def test_the_schema_refuses_what_the_standard_does_not_allow(rng: etree.RelaxNG) -> None:
    """The validator is not a rubber stamp: a message without its source, or with an action
    code A.5.1 does not list, fails."""
    xml = _xml(_event("login.ok"))
    xml.remove(xml.find("AuditSourceIdentification"))
    assert not rng.validate(xml)
    xml = _xml(_event("login.ok"))
    xml.find("EventIdentification").set("EventActionCode", "X")
    assert not rng.validate(xml)


def test_failed_login_is_user_authentication_with_a_minor_failure() -> None:
    xml = _xml(_event("login.failed", reason="password"))
    ident = xml.find("EventIdentification")
    assert ident.get("EventOutcomeIndicator") == "4"
    assert ident.find("EventTypeCode").get("csd-code") == "110122"  # Login
    assert ident.findtext("EventOutcomeDescription") == "password"
    user = xml.find("ActiveParticipant")
    assert user.get("UserID") == "doctor1"
    assert user.get("UserIsRequestor") == "true"
    assert user.get("NetworkAccessPointID") == "10.0.0.5"
    assert user.get("NetworkAccessPointTypeCode") == "2"
    source = xml.find("AuditSourceIdentification")
    assert source.get("AuditSourceID") == "pacs.example.cn"
    assert source.get("AuditEnterpriseSiteID") == "某市人民医院"


def test_a_viewed_study_names_its_patient_accession_and_sop_classes() -> None:
    xml = _xml(_event("dicomweb.study_viewed", "study:1.2.3.4"), [STUDY])
    assert xml.find("EventIdentification").get("EventActionCode") == "R"
    objects = xml.findall("ParticipantObjectIdentification")
    study = next(o for o in objects if o.get("ParticipantObjectTypeCodeRole") == "3")
    assert study.get("ParticipantObjectID") == "1.2.3.4"
    assert study.find("ParticipantObjectIDTypeCode").get("csd-code") == "110180"
    assert study.find("ParticipantObjectDescription/Accession").get("Number") == "A2024001"
    sop = study.find("ParticipantObjectDescription/SOPClass")
    assert (sop.get("UID"), sop.get("NumberOfInstances")) == (CT, "12")
    patient = next(o for o in objects if o.get("ParticipantObjectTypeCodeRole") == "1")
    assert patient.get("ParticipantObjectID") == "P001"
    assert patient.findtext("ParticipantObjectName") == "王建国"  # shown, never WANG^JIANGUO


def test_received_instances_name_the_sender_as_source_and_us_as_destination() -> None:
    event = _event("archive.received", "study:1.2.3.4", ae_title="CT1", instances=12)
    event = AuditEvent(event.id, event.at, None, event.action, event.target, event.detail, "")
    xml = _xml(event, [STUDY])
    roles = {
        p.get("UserID"): p.find("RoleIDCode").get("csd-code")
        for p in xml.findall("ActiveParticipant")
    }
    assert roles == {"CT1": "110153", "CORE_AE": "110152"}
    assert xml.find("EventIdentification").get("EventActionCode") == "C"


def test_a_search_carries_its_query() -> None:
    import base64
    import json

    xml = _xml(_event("study.search", "", query="王*", modality="CT"))
    query = xml.find("ParticipantObjectIdentification")
    assert query.get("ParticipantObjectTypeCodeRole") == "24"
    said = json.loads(base64.b64decode(query.findtext("ParticipantObjectQuery")))
    assert said == {"modality": "CT", "query": "王*"}


def test_disc_export_names_the_media() -> None:
    xml = _xml(_event("discs.done", "disc_job:5", device="kiosk-1"))
    assert xml.find("EventIdentification/EventID").get("csd-code") == "110106"
    media = [
        p
        for p in xml.findall("ActiveParticipant")
        if p.find("RoleIDCode") is not None and p.find("RoleIDCode").get("csd-code") == "110154"
    ]
    assert [m.get("UserID") for m in media] == ["kiosk-1"]


def test_actions_that_are_no_atna_event_are_not_sent() -> None:
    assert codes.mapping_of("queueing.screen.change") is None
    assert codes.mapping_of("reporting.word_rule.add") is None
