"""Small stand-ins shared by the capture station's tests: a DICOM object of a capture (the
media helper's builders are tested on their own) and a pynetdicom storage SCP that can go down
and come back."""

from __future__ import annotations

import socket
import threading
from pathlib import Path

from pydicom import Dataset, FileMetaDataset
from pydicom.uid import ExplicitVRLittleEndian
from pynetdicom import AE, evt
from pynetdicom.sop_class import SecondaryCaptureImageStorage

from capture_station.contract import Capture

SC = "1.2.840.10008.5.1.4.1.1.7"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def dataset(capture: Capture, _path: Path) -> Dataset:
    ds = Dataset()
    ds.SOPClassUID = SC
    ds.SOPInstanceUID = capture.sop_instance_uid
    ds.StudyInstanceUID = capture.exam.study_instance_uid or "1.2.826.0.1.3680043.8.498.1"
    ds.SeriesInstanceUID = capture.series_instance_uid
    ds.PatientID = capture.exam.patient_id
    ds.PatientName = capture.exam.patient_name
    ds.AccessionNumber = capture.exam.accession_number
    ds.Modality = "OT"
    ds.InstanceNumber = capture.instance_number
    ds.SamplesPerPixel = 1
    ds.PhotometricInterpretation = "MONOCHROME2"
    ds.Rows = ds.Columns = 4
    ds.BitsAllocated = ds.BitsStored = 8
    ds.HighBit = 7
    ds.PixelRepresentation = 0
    ds.PixelData = bytes(16)
    ds.SpecificCharacterSet = "ISO_IR 192"
    ds.file_meta = FileMetaDataset()
    ds.file_meta.TransferSyntaxUID = ExplicitVRLittleEndian
    return ds


class StorageScp:
    """Records the SOP Instance UIDs it receives; answers ``status`` (0 = success)."""

    def __init__(self, ae_title: str = "CORE") -> None:
        self.port = free_port()
        self.ae_title = ae_title
        self.received: list[str] = []
        self.status = 0x0000
        self._lock = threading.Lock()
        self._server = None

    def _stored(self, event: evt.Event) -> int:
        with self._lock:
            if self.status == 0x0000:
                self.received.append(str(event.dataset.SOPInstanceUID))
        return self.status

    def start(self) -> StorageScp:
        ae = AE(ae_title=self.ae_title)
        ae.add_supported_context(SecondaryCaptureImageStorage, [ExplicitVRLittleEndian])
        self._server = ae.start_server(
            ("127.0.0.1", self.port), block=False, evt_handlers=[(evt.EVT_C_STORE, self._stored)]
        )
        return self

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server = None
