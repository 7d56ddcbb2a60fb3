"""DICOM adapter: the pynetdicom application entity and its handlers. No business rules."""

from core_server.dicom.server import DicomServer

__all__ = ["DicomServer"]
