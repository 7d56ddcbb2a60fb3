"""The Print SCP on pynetdicom's path: N-CREATE, N-SET, N-GET, N-ACTION and N-DELETE whose SOP
class is a Print Management one go to the association's
:class:`~core_server.film.print_scp.PrintSession`; the others (MPPS, storage commitment) stay
where they were. Printed film boxes are archived by :mod:`core_server.film.sheets`.

Who may print: whoever may store (a printed sheet is an object stored in the archive), so an
unregistered AE may print unless strict mode is on; a registered one needs ``allow_store``.
"""

from __future__ import annotations

import logging
import weakref
from typing import Any

from pynetdicom import AE, evt

from core_server.archive import Archive
from core_server.film import print_scp
from core_server.film.print_scp import PrinterInfo, PrintSession
from core_server.film.print_values import NOT_AUTHORIZED, answer_status
from core_server.film.sheets import DEFAULT_DPI, modality_printer
from core_server.ris import Ris

log = logging.getLogger(__name__)
ATTRIBUTE_LIST_ERROR = 0x0107


def is_print(sop_class: Any) -> bool:
    return str(sop_class or "") in print_scp.CLASSES


def add_contexts(ae: AE) -> None:
    """The Print Management contexts the core accepts (both meta SOP classes, Presentation LUT,
    Basic Annotation Box and Printer on their own)."""
    for uid in print_scp.ABSTRACT_SYNTAXES:
        ae.add_supported_context(uid)


class PrintService:
    """One per DICOM server: a :class:`PrintSession` per association, archiving what it prints."""

    def __init__(
        self, archive: Archive, ris: Ris | None, *, dpi: int = DEFAULT_DPI, name: str = "FILM"
    ) -> None:
        self.printer = modality_printer(archive, ris, dpi)
        self.info = PrinterInfo(name=name)
        self._sessions: weakref.WeakKeyDictionary[Any, PrintSession] = weakref.WeakKeyDictionary()

    def session(self, event: evt.Event, handler: Any) -> PrintSession | None:
        """The association's print session; None when the calling AE may not print."""
        found = self._sessions.get(event.assoc)
        if found is None:
            permits = getattr(handler, "permits", None)
            if permits is not None and not permits("store"):
                return None
            found = PrintSession(self.printer, calling_ae=handler.calling, info=self.info)
            self._sessions[event.assoc] = found
        return found

    def handle(self, event: evt.Event, handler: Any) -> Any:
        """Answer one Print Management N-service request: (status, data set), for N-DELETE
        the status alone (as pynetdicom takes them)."""
        session = self.session(event, handler)
        if session is None:
            refused = answer_status(NOT_AUTHORIZED, "calling AE title may not print")
            return refused if event.event == evt.EVT_N_DELETE else (refused, None)
        request = event.request
        try:
            if event.event == evt.EVT_N_CREATE:
                uid = request.AffectedSOPInstanceUID
                return session.create(
                    str(request.AffectedSOPClassUID),
                    None if uid is None else str(uid),
                    event.attribute_list,
                    meta=str(event.context.abstract_syntax),
                )
            if event.event == evt.EVT_N_SET:
                return session.set(
                    str(request.RequestedSOPClassUID),
                    str(request.RequestedSOPInstanceUID),
                    event.modification_list,
                )
        except Exception as exc:  # the attribute list could not be decoded
            log.warning("print request from %s not decoded: %s", handler.calling, exc)
            return answer_status(ATTRIBUTE_LIST_ERROR, "attribute list cannot be decoded"), None
        sop_class = str(request.RequestedSOPClassUID)
        uid = str(request.RequestedSOPInstanceUID)
        if event.event == evt.EVT_N_GET:
            return session.get(sop_class, uid, list(event.attribute_identifiers or []))
        if event.event == evt.EVT_N_ACTION:
            return session.action(sop_class, uid, int(event.action_type or 0))
        return session.delete(sop_class, uid)[0]  # N-DELETE answers a status only
