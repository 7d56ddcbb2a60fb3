"""Capture (the core's side of the capture stations): endoscope disinfection log and the scope
an exam used (``scopes``), the pathology request form (``pathology``). The station's live
picture is relayed by the web adapter and stores nothing."""

from core_server.capture.pathology import BiopsySite, Pathology, PathologyRequest
from core_server.capture.scopes import Disinfection, Scope, Scopes, ScopeState

__all__ = [
    "BiopsySite",
    "Disinfection",
    "Pathology",
    "PathologyRequest",
    "Scope",
    "ScopeState",
    "Scopes",
]
