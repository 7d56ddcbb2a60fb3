"""The one interface between the archive and the two paths that serve DICOM associations.

After Orthanc's ``IStoreRequestHandler``/``IFindRequestHandler``/``IMoveRequestHandler``: when
an association is requested, a :class:`HandlerFactory` makes one :class:`AssociationHandler`
for its calling AE title and address, and whichever path serves the association (the direct
path, :mod:`core_server.dicom.direct`, or pynetdicom's, :mod:`core_server.dicom.threaded`)
asks it, and only it, what to answer. So who may do what, how an object is stored and what a
query finds are decided once, in :mod:`core_server.dicom.archive_handler`, and the paths only
carry PDUs and DIMSE messages.

Statuses are DIMSE status codes, or a status data set when an Error Comment goes with one.
"""

from __future__ import annotations

import ssl
from collections.abc import Callable, Iterator
from typing import Any, Protocol

from pydicom import Dataset

from core_server.archive import Incoming, InstanceFile, Verdict
from core_server.dicom.answers import Answer

Status = int | Dataset
# Where a C-MOVE goes: host, port, and the TLS context of a destination marked tls (else None).
Destination = tuple[str, int, ssl.SSLContext | None]

SUCCESS, PENDING, CANCEL, WARNING = 0x0000, 0xFF00, 0xFE00, 0xB000
PROCESSING_FAILURE = 0x0110  # PS3.7 C.4: an error of ours, not of the request
NOT_AUTHORIZED = 0x0124
OUT_OF_RESOURCES = 0xA700  # C-STORE: no room for the object (disk full, database full)
NONE_DONE = 0xA702  # C-GET/C-MOVE: out of resources, unable to perform sub-operations
MOVE_DESTINATION_UNKNOWN = 0xA801
IDENTIFIER_DOES_NOT_MATCH = 0xA900
CANNOT_UNDERSTAND = 0xC000  # C-STORE: not an object the archive can index
# C-STORE: a different object is archived under this SOP Instance UID and the sender may not
# replace it. In the "Error: cannot understand" range (0xCxxx), whose low bits PS3.4 B.2.3
# leaves to the implementation; 409 as in HTTP's Conflict, which STOW-RS answers for it.
UID_CONFLICT = 0xC409


def status(code: int, comment: str) -> Dataset:
    """A status with an Error Comment (at most 64 characters, the VR's limit)."""
    found = Dataset()
    found.Status = code
    found.ErrorComment = comment[:64]
    return found


def code_of(found: Status) -> int:
    return int(found.Status) if isinstance(found, Dataset) else int(found)


class AssociationHandler(Protocol):
    """What the archive answers on one association."""

    calling: str  # the calling AE title, stripped

    def admitted(self) -> bool:
        """May this AE associate at all (strict mode refuses unregistered ones)?"""
        ...

    def echo(self) -> Status: ...

    def store(self, incoming: Incoming) -> Status:
        """A C-STORE: the object as received, in its incoming file (file meta first). With
        SUCCESS the archive took the file; with any other status it is gone."""
        ...

    def find(
        self, sop_class_uid: str, identifier: Dataset, cancelled: Callable[[], bool]
    ) -> Iterator[tuple[Status, Answer | Dataset | None]]:
        """A C-FIND: (PENDING, answer) pairs, then the final status (with no answer)."""
        ...

    def retrieve(self, identifier: Dataset) -> list[InstanceFile] | Status:
        """A C-GET or C-MOVE: the stored files it names, or a refusal status."""
        ...

    def destination(self, move_destination: str) -> Destination | Status:
        """Where a C-MOVE to ``move_destination`` goes, or a refusal status."""
        ...

    def transferred(
        self, files: list[InstanceFile], destination: str, operation: str, failed: set[str]
    ) -> None:
        """What a C-MOVE or C-GET sent out (``failed``: SOP Instance UIDs not taken)."""
        ...

    def tls_refused(self, destination: str, address: str, reason: str) -> None:
        """Our TLS handshake with a C-MOVE destination failed."""
        ...


class ThreadedHandler(AssociationHandler, Protocol):
    """The services only pynetdicom's path serves: storage commitment and MPPS."""

    def commit(
        self, action_type: int, information: Dataset | None
    ) -> tuple[Status, tuple[str, Verdict] | None]:
        """An N-ACTION: its status and, when accepted, the Transaction UID and the verdict
        to report."""
        ...

    def mpps_create(self, sop_instance_uid: str, attributes: Dataset) -> tuple[Status, Any]: ...

    def mpps_set(self, sop_instance_uid: str, modifications: Dataset) -> tuple[Status, Any]: ...

    def commitment_report(self, information: Dataset | None) -> Status:
        """A Storage Commitment N-EVENT-REPORT on an association the peer opened: its answer
        to a request the core made when forwarding (docs/storage-forwarding.md)."""
        ...


class HandlerFactory(Protocol):
    def __call__(self, calling_ae_title: str, address: str) -> ThreadedHandler: ...
