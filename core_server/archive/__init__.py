"""The DICOM archive domain: storage area, index, ingest, matching, storage commitment."""

from core_server.archive.commitment import Reference, Verdict
from core_server.archive.corrections import Correction, CorrectionError, Version
from core_server.archive.ingest import Origin, ReplaceRefused, Stored
from core_server.archive.objects import InvalidObject
from core_server.archive.query import ATTRIBUTES, DERIVED, Level, QueryError
from core_server.archive.service import Archive, InstanceFile
from core_server.archive.storage import Incoming
from core_server.archive.study_search import StudyFilter, StudySearchError, search_studies

__all__ = [
    "ATTRIBUTES",
    "DERIVED",
    "Archive",
    "Correction",
    "CorrectionError",
    "Incoming",
    "InstanceFile",
    "InvalidObject",
    "Level",
    "Origin",
    "QueryError",
    "Reference",
    "ReplaceRefused",
    "Stored",
    "StudyFilter",
    "StudySearchError",
    "Verdict",
    "Version",
    "search_studies",
]
