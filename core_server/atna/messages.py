"""One audit-trail entry as a DICOM PS3.15 A.5 ``AuditMessage`` (XML, UTF-8).

Built with the standard library's ElementTree in the schema's element order (RELAX NG groups
are ordered: EventIdentification, ActiveParticipant+, AuditSourceIdentification,
ParticipantObjectIdentification*). The tests validate every message against the standard's
own schema (A.5.1) with lxml.
"""

from __future__ import annotations

import base64
import json
import xml.etree.ElementTree as ET
from dataclasses import dataclass, field
from typing import Any

from core_server import clock
from core_server.atna import codes
from core_server.atna.codes import Code, Mapping
from core_server.auth import AuditEvent


@dataclass(frozen=True)
class Source:
    """This appliance as the audit source and as the application participant."""

    audit_source_id: str  # the host name
    ae_title: str
    site: str = ""


@dataclass(frozen=True)
class Study:
    """What the archive knows of a study: its patient, accession and SOP classes."""

    uid: str
    patient_id: str = ""
    patient_name: str = ""
    accession: str = ""
    sop_classes: dict[str, int] = field(default_factory=dict)  # SOP Class UID -> instances


def _coded(parent: ET.Element, tag: str, code: Code) -> ET.Element:
    return ET.SubElement(
        parent,
        tag,
        {"csd-code": code.code, "codeSystemName": code.system, "originalText": code.meaning},
    )


def _participant(
    root: ET.Element, user_id: str, requestor: bool, address: str, role: Code | None
) -> None:
    attrs = {"UserID": user_id or "unknown", "UserIsRequestor": "true" if requestor else "false"}
    if address:
        attrs["NetworkAccessPointID"] = address
        attrs["NetworkAccessPointTypeCode"] = "2" if _is_ip(address) else "1"
    element = ET.SubElement(root, "ActiveParticipant", attrs)
    if role is not None:
        _coded(element, "RoleIDCode", role)


def _is_ip(address: str) -> bool:
    import ipaddress

    try:
        ipaddress.ip_address(address)
    except ValueError:
        return False
    return True


def _object(
    root: ET.Element,
    object_id: str,
    id_type: Code,
    type_code: str,
    role: str,
    *,
    name: str = "",
    query: bytes | None = None,
    details: dict[str, str] | None = None,
) -> ET.Element:
    element = ET.SubElement(
        root,
        "ParticipantObjectIdentification",
        {
            "ParticipantObjectID": object_id,
            "ParticipantObjectTypeCode": type_code,
            "ParticipantObjectTypeCodeRole": role,
        },
    )
    _coded(element, "ParticipantObjectIDTypeCode", id_type)
    # A.5.1 (this edition) asks for a name or a query on every object.
    if query is not None:
        ET.SubElement(element, "ParticipantObjectQuery").text = base64.b64encode(query).decode()
    else:
        ET.SubElement(element, "ParticipantObjectName").text = name or object_id
    for key, value in (details or {}).items():
        ET.SubElement(
            element,
            "ParticipantObjectDetail",
            {"type": key, "value": base64.b64encode(value.encode()).decode()},
        )
    return element


def _study(root: ET.Element, study: Study) -> None:
    element = _object(root, study.uid, codes.STUDY_UID, "2", "3", name=study.accession)
    if study.accession or study.sop_classes:
        description = ET.SubElement(element, "ParticipantObjectDescription")
        if study.accession:
            ET.SubElement(description, "Accession", {"Number": study.accession})
        for uid, count in sorted(study.sop_classes.items()):
            ET.SubElement(description, "SOPClass", {"UID": uid, "NumberOfInstances": str(count)})


def _patient(root: ET.Element, patient_id: str, name: str) -> None:
    # The patient's name is shown, never a raw ^ (names.display); the ID carries the identity.
    from core_server import names

    shown = names.display(name) if name else patient_id
    _object(root, patient_id, codes.PATIENT_NUMBER, "1", "1", name=shown)


def build(event: AuditEvent, mapping: Mapping, source: Source, studies: list[Study]) -> bytes:
    """The AuditMessage for one audit-trail entry (``studies``: what its target names)."""
    root = ET.Element("AuditMessage")
    outcome = mapping.outcome
    identification = ET.SubElement(
        root,
        "EventIdentification",
        {
            "EventActionCode": mapping.action,
            "EventDateTime": clock.iso(event.at) or "",
            "EventOutcomeIndicator": outcome,
        },
    )
    _coded(identification, "EventID", mapping.event)
    if mapping.type is not None:
        _coded(identification, "EventTypeCode", mapping.type)
    if outcome != codes.SUCCESS:
        reason = str(event.detail.get("reason", "")) or event.action
        ET.SubElement(identification, "EventOutcomeDescription").text = reason
    _participants(root, event, mapping, source)
    _source(root, source)
    _objects(root, event, studies)
    body: bytes = ET.tostring(root, encoding="utf-8", xml_declaration=True)
    return body


def _participants(root: ET.Element, event: AuditEvent, mapping: Mapping, source: Source) -> None:
    detail = event.detail
    peer_ae = str(detail.get("ae_title") or detail.get("calling_ae") or "")
    user = event.username or peer_ae
    if user or event.address:
        role = codes.DESTINATION if mapping.event in (codes.INSTANCES_TRANSFERRED,) else None
        if event.action == "archive.received":
            role = codes.SOURCE  # the modality sent to us
        _participant(root, user or event.address, True, event.address, role)
    own_role = codes.APPLICATION if mapping.event == codes.APPLICATION_ACTIVITY else None
    if event.action == "archive.received":
        own_role = codes.DESTINATION
    elif mapping.event == codes.INSTANCES_TRANSFERRED:
        own_role = codes.SOURCE
    _participant(
        root, source.ae_title, not (user or event.address), source.audit_source_id, own_role
    )
    if mapping.export:
        _participant(root, str(detail.get("device") or "media"), False, "", codes.DESTINATION_MEDIA)


def _source(root: ET.Element, source: Source) -> None:
    attrs = {"AuditSourceID": source.audit_source_id}
    if source.site:
        attrs = {"AuditEnterpriseSiteID": source.site, **attrs}
    element = ET.SubElement(root, "AuditSourceIdentification", attrs)
    ET.SubElement(element, "AuditSourceTypeCode", {"csd-code": "4"})  # application server


def _objects(root: ET.Element, event: AuditEvent, studies: list[Study]) -> None:
    kind, _, value = event.target.partition(":")
    patients: dict[str, str] = {}
    for study in studies:
        _study(root, study)
        if study.patient_id:
            patients.setdefault(study.patient_id, study.patient_name)
    if kind == "patient" and value:
        patients.setdefault(value, str(event.detail.get("patient_name", "")))
    elif event.detail.get("patient_id"):
        patients.setdefault(str(event.detail["patient_id"]), "")
    for patient_id, name in patients.items():
        _patient(root, patient_id, name)
    if event.action in ("study.search", "dicom.query"):
        query = json.dumps(_query_of(event.detail), ensure_ascii=False, sort_keys=True)
        _object(root, codes.STUDY_ROOT_FIND, codes.SOP_CLASS_UID, "2", "24", query=query.encode())
    elif kind == "user" and value:
        _object(root, value, codes.USER_IDENTIFIER, "1", "11")
    elif kind == "modality" and value:
        _object(root, value, codes.NODE_ID, "2", "13")
    elif kind in ("order", "exam", "disc_job") and value:
        _object(root, f"{kind}:{value}", codes.ORDER_NUMBER, "2", "20")


def _query_of(detail: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in detail.items() if k not in ("path",)} or {"query": ""}
