"""The coded values of DICOM PS3.15 A.5 and PS3.16 (DCM) that our audit messages use, and
which audit-trail action becomes which audit message (docs/atna.md has the table)."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Code:
    """A coded value: ``csd-code``, ``codeSystemName``, ``originalText`` (the schema requires
    all three on every coded element)."""

    code: str
    system: str
    meaning: str


def dcm(code: str, meaning: str) -> Code:
    return Code(code, "DCM", meaning)


# EventID (PS3.15 A.5.3, CID 400)
APPLICATION_ACTIVITY = dcm("110100", "Application Activity")
INSTANCES_ACCESSED = dcm("110103", "DICOM Instances Accessed")
INSTANCES_TRANSFERRED = dcm("110104", "DICOM Instances Transferred")
STUDY_DELETED = dcm("110105", "DICOM Study Deleted")
EXPORT = dcm("110106", "Export")
ORDER_RECORD = dcm("110109", "Order Record")
PATIENT_RECORD = dcm("110110", "Patient Record")
QUERY = dcm("110112", "Query")
SECURITY_ALERT = dcm("110113", "Security Alert")
USER_AUTHENTICATION = dcm("110114", "User Authentication")

# EventTypeCode (CID 401, 402, 403)
APPLICATION_START = dcm("110120", "Application Start")
APPLICATION_STOP = dcm("110121", "Application Stop")
LOGIN = dcm("110122", "Login")
LOGOUT = dcm("110123", "Logout")
NODE_AUTHENTICATION = dcm("110126", "Node Authentication")
NETWORK_CONFIGURATION = dcm("110128", "Network Configuration")
SECURITY_ROLES_CHANGED = dcm("110136", "Security Roles Changed")
USER_SECURITY_CHANGED = dcm("110137", "User security Attributes Changed")

# RoleIDCode (CID 402)
APPLICATION = dcm("110150", "Application")
DESTINATION = dcm("110152", "Destination Role ID")
SOURCE = dcm("110153", "Source Role ID")
DESTINATION_MEDIA = dcm("110154", "Destination Media")

# ParticipantObjectIDTypeCode
PATIENT_NUMBER = Code("2", "RFC-3881", "Patient Number")
STUDY_UID = dcm("110180", "Study Instance UID")
SOP_CLASS_UID = dcm("110181", "SOP Class UID")
NODE_ID = dcm("110182", "Node ID")
USER_IDENTIFIER = Code("11", "RFC-3881", "User Identifier")
ORDER_NUMBER = Code("9", "RFC-3881", "Report Number")  # the accession number of an order

# Outcome indicators
SUCCESS, MINOR_FAILURE, SERIOUS_FAILURE = "0", "4", "8"

# Study Root Query/Retrieve Information Model - FIND (the model a study search is like)
STUDY_ROOT_FIND = "1.2.840.10008.5.1.4.1.2.2.1"


@dataclass(frozen=True)
class Mapping:
    """What one audit-trail action is as an audit message."""

    event: Code
    action: str  # EventActionCode: C R U D E
    type: Code | None = None
    outcome: str = SUCCESS
    export: bool = False  # the user takes the images out (disc, film, cloud link)


# Exact actions first; then families by prefix (the longest prefix wins).
EXACT: dict[str, Mapping] = {
    "login.ok": Mapping(USER_AUTHENTICATION, "E", LOGIN),
    "login.failed": Mapping(USER_AUTHENTICATION, "E", LOGIN, MINOR_FAILURE),
    "login.locked": Mapping(SECURITY_ALERT, "E", USER_SECURITY_CHANGED, MINOR_FAILURE),
    "login.throttled": Mapping(SECURITY_ALERT, "E", USER_SECURITY_CHANGED, MINOR_FAILURE),
    "logout": Mapping(USER_AUTHENTICATION, "E", LOGOUT),
    "password.change": Mapping(SECURITY_ALERT, "E", USER_SECURITY_CHANGED),
    "user.create": Mapping(SECURITY_ALERT, "E", SECURITY_ROLES_CHANGED),
    "user.change": Mapping(SECURITY_ALERT, "E", SECURITY_ROLES_CHANGED),
    "user.unlock": Mapping(SECURITY_ALERT, "E", USER_SECURITY_CHANGED),
    "node.authentication_failed": Mapping(SECURITY_ALERT, "E", NODE_AUTHENTICATION, MINOR_FAILURE),
    "study.search": Mapping(QUERY, "E"),
    "dicom.query": Mapping(QUERY, "E"),
    "dicomweb.study_viewed": Mapping(INSTANCES_ACCESSED, "R"),
    "dicomweb.study_retrieved": Mapping(INSTANCES_TRANSFERRED, "R"),
    "viewer.launch": Mapping(INSTANCES_ACCESSED, "R"),
    "film.sheet.view": Mapping(INSTANCES_ACCESSED, "R"),
    "film.compose.print": Mapping(EXPORT, "R", export=True),
    "archive.received": Mapping(INSTANCES_TRANSFERRED, "C"),
    "archive.sent": Mapping(INSTANCES_TRANSFERRED, "R"),
    "archive.instance_replaced": Mapping(INSTANCES_ACCESSED, "U"),
    "archive.deleted": Mapping(STUDY_DELETED, "D"),
    "application.start": Mapping(APPLICATION_ACTIVITY, "E", APPLICATION_START),
    "application.stop": Mapping(APPLICATION_ACTIVITY, "E", APPLICATION_STOP),
    "ris.patient.register": Mapping(PATIENT_RECORD, "C"),
    "ris.patient.update": Mapping(PATIENT_RECORD, "U"),
    "ris.patient.merge": Mapping(PATIENT_RECORD, "U"),
    "ris.order.place": Mapping(ORDER_RECORD, "C"),
    "ris.order.change": Mapping(ORDER_RECORD, "U"),
    "ris.order.cancel": Mapping(ORDER_RECORD, "D"),
    "discs.done": Mapping(EXPORT, "R", export=True),
    "discs.failed": Mapping(EXPORT, "R", outcome=MINOR_FAILURE, export=True),
    "discs.identify": Mapping(PATIENT_RECORD, "R"),
    "discs.identify_failed": Mapping(SECURITY_ALERT, "E", USER_SECURITY_CHANGED, MINOR_FAILURE),
    "discs.cloud.issue": Mapping(EXPORT, "R", export=True),
    "discs.cloud.opened": Mapping(INSTANCES_ACCESSED, "R"),
    "discs.cloud.check_failed": Mapping(SECURITY_ALERT, "E", USER_SECURITY_CHANGED, MINOR_FAILURE),
    "report.viewed": Mapping(PATIENT_RECORD, "R"),
    "report.pdf_viewed": Mapping(PATIENT_RECORD, "R"),
    "report.print": Mapping(EXPORT, "R", export=True),
    "report.reprint": Mapping(EXPORT, "R", export=True),
}
FAMILIES: dict[str, Mapping] = {
    "modality.": Mapping(SECURITY_ALERT, "E", NETWORK_CONFIGURATION),
    "reporting.report.": Mapping(PATIENT_RECORD, "U"),
    "ris.study.": Mapping(INSTANCES_ACCESSED, "U"),
    "ris.exam.": Mapping(ORDER_RECORD, "U"),
}


def mapping_of(action: str) -> Mapping | None:
    """The audit message an action becomes, or None: not every audit entry is an ATNA event
    (queue screens, templates, settings stay in the core's own trail)."""
    if action in EXACT:
        return EXACT[action]
    prefixes = [p for p in FAMILIES if action.startswith(p)]
    return FAMILIES[max(prefixes, key=len)] if prefixes else None
