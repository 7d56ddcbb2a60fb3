"""The DICOM archive domain: storage area, index, ingest, matching, storage commitment."""

from core_server.archive.commitment import Reference, Verdict
from core_server.archive.corrections import Correction, CorrectionError, Version
from core_server.archive.ingest import Origin, Stored
from core_server.archive.objects import InvalidObject
from core_server.archive.query import ATTRIBUTES, DERIVED, Level, QueryError
from core_server.archive.service import Archive, InstanceFile
from core_server.archive.study_search import StudyFilter, StudySearchError, search_studies

__all__ = [
    "ATTRIBUTES",
    "DERIVED",
    "Archive",
    "Correction",
    "CorrectionError",
    "InstanceFile",
    "InvalidObject",
    "Level",
    "Origin",
    "QueryError",
    "Reference",
    "Stored",
    "StudyFilter",
    "StudySearchError",
    "Verdict",
    "Version",
    "search_studies",
]
