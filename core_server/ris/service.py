"""The RIS's public face: what adapters (web, HL7, DICOM MWL/MPPS) and the queue service call.

:class:`Ris` is one object made of one part per job (each in its module, with that job's
row-level steps; :mod:`core_server.ris.base` says what they share). Every method is one
transaction; every exam status change is recorded with who and when and published on the bus
as :data:`~core_server.ris.models.EXAM_STATUS_CHANGED` after the commit. ``username`` is the
person or system acting (``hl7:HIS``, ``mpps:CT01``...), kept in the history. Times going in
may be aware or the hospital's wall clock (no zone); times coming out are aware, in UTC.
"""

from __future__ import annotations

from core_server.ris import catalogue
from core_server.ris.appointments import Appointments
from core_server.ris.base import EXAM_CHANGED
from core_server.ris.catalogue import Catalogue
from core_server.ris.exams import Exams
from core_server.ris.orders import Orders
from core_server.ris.patients import Patients
from core_server.ris.performed import PerformedSteps
from core_server.ris.performing import Performing
from core_server.ris.reconciliation import Reconciliation
from core_server.ris.requisitions import MAX_REQUISITION_BYTES, Requisitions
from core_server.ris.visits import Visits
from core_server.ris.worklist import Worklist

__all__ = ["EXAM_CHANGED", "MAX_REQUISITION_BYTES", "Ris"]


class Ris(
    Patients,
    Visits,
    Orders,
    Exams,
    Performing,
    Appointments,
    Catalogue,
    Requisitions,
    Worklist,
    PerformedSteps,
    Reconciliation,
):
    """The RIS service, built once per core process (``core_server.server.build_core``)."""

    def start(self) -> None:
        """Seed an empty catalogue and match images as the archive stores them."""
        with self._write() as conn:
            catalogue.seed(conn)
        if self.archive is not None:
            self.archive.bus.subscribe("archive.instance_stored", self.on_instance_stored)
