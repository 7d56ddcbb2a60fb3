"""Report output: signed reports archived in the PACS (DICOM SR and encapsulated PDF), printed
PDFs from per-department/modality layouts, the print log and reprint permission."""

from core_server.reporting.output.models import (
    KINDS,
    PRINT_ROLES,
    ArchivedObject,
    PrintRecord,
    ReprintGrant,
    default_public_url,
)
from core_server.reporting.output.rendering import age
from core_server.reporting.output.service import ReportOutput
from core_server.reporting.output.source import (
    SignedReport,
    SignedVersion,
    reports_for,
    signed_versions,
)
from core_server.reporting.output.tables import (
    report_output_objects,
    report_print_log,
    report_reprint_grants,
)

__all__ = [
    "KINDS",
    "PRINT_ROLES",
    "ArchivedObject",
    "PrintRecord",
    "ReportOutput",
    "ReprintGrant",
    "SignedReport",
    "SignedVersion",
    "age",
    "default_public_url",
    "report_output_objects",
    "report_print_log",
    "report_reprint_grants",
    "reports_for",
    "signed_versions",
]
