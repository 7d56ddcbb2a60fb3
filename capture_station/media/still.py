"""A captured frame as a JPEG (the spool's form) and as a DICOM still of the exam.

The JPEG is Pillow's baseline encoder with 4:2:2 chroma subsampling, so the DICOM object says
``YBR_FULL_422`` truthfully (PS3.5 8.2.1: JPEG baseline colour is YBR_FULL_422 when the
chroma is subsampled horizontally). It goes into the object as it is (one fragment), so what
the doctor sees is exactly what was written to the spool. The lossless choice is uncompressed
RGB (Explicit VR Little Endian): every reader has it and the station needs no extra codec.
"""

from __future__ import annotations

from io import BytesIO
from typing import Literal

import numpy as np
from PIL import Image
from pydicom import Dataset
from pydicom.encaps import encapsulate
from pydicom.uid import ExplicitVRLittleEndian, JPEGBaseline8Bit

from capture_station.contract import Capture, Department, Frame, StationIdentity
from capture_station.media.common import anatomic_region, base_dataset

VL_ENDOSCOPIC = "1.2.840.10008.5.1.4.1.1.77.1.1"
ULTRASOUND = "1.2.840.10008.5.1.4.1.1.6.1"
VL_PHOTOGRAPHIC = "1.2.840.10008.5.1.4.1.1.77.1.4"
STILL_CLASSES: dict[Department, str] = {
    "endoscopy": VL_ENDOSCOPIC,
    "ultrasound": ULTRASOUND,
    "photo": VL_PHOTOGRAPHIC,
}
Encoding = Literal["jpeg", "lossless"]


def encode_still(frame: Frame, quality: int = 90) -> bytes:
    """The frame as a baseline JPEG, 4:2:2 (``subsampling=1`` in Pillow's terms)."""
    if not 1 <= quality <= 100:
        raise ValueError("JPEG quality must be between 1 and 100")
    buffer = BytesIO()
    image = Image.fromarray(np.ascontiguousarray(frame.pixels), "RGB")
    image.save(buffer, "JPEG", quality=quality, subsampling=1, progressive=False, optimize=False)
    return buffer.getvalue()


def encode_lossless(frame: Frame) -> bytes:
    """The frame for the lossless choice: PNG in the spool (small, exact, fsynced the same)."""
    buffer = BytesIO()
    Image.fromarray(np.ascontiguousarray(frame.pixels), "RGB").save(buffer, "PNG", compress_level=1)
    return buffer.getvalue()


def still_dataset(
    image: bytes,
    capture: Capture,
    station: StationIdentity,
    encoding: Encoding | None = None,
) -> Dataset:
    """The still as VL Endoscopic / Ultrasound / VL Photographic Image by the station's
    department. ``image`` is the spooled JPEG (written as JPEG Baseline, lossy) or PNG
    (written as uncompressed RGB, lossless); ``encoding`` defaults to what the bytes are."""
    kind = encoding or ("jpeg" if image[:2] == b"\xff\xd8" else "lossless")
    sop_class = STILL_CLASSES[station.department]
    decoded = Image.open(BytesIO(image))
    width, height = decoded.size
    syntax = JPEGBaseline8Bit if kind == "jpeg" else ExplicitVRLittleEndian
    ds = base_dataset(capture, station, sop_class, syntax)
    _image_modules(ds, station.department, width, height)
    region = anatomic_region(capture.exam.body_part, required=False)
    if region and station.department != "ultrasound":
        ds.AnatomicRegionSequence = region
    if kind == "jpeg":
        if decoded.format != "JPEG":
            raise ValueError("the JPEG Baseline choice needs the spooled JPEG")
        ds.PhotometricInterpretation = "YBR_FULL_422"
        ds.LossyImageCompression = "01"
        ds.LossyImageCompressionRatio = f"{(width * height * 3) / len(image):.2f}"[:16]
        ds.LossyImageCompressionMethod = "ISO_10918_1"
        ds.PixelData = encapsulate([image])
        ds["PixelData"].VR = "OB"
    else:
        pixels = np.asarray(decoded.convert("RGB"), dtype=np.uint8)
        ds.PhotometricInterpretation = "RGB"
        ds.LossyImageCompression = "00"
        ds.PixelData = pixels.tobytes()
        ds["PixelData"].VR = "OB"
    return ds


def _image_modules(ds: Dataset, department: Department, width: int, height: int) -> None:
    """Image Pixel plus the department's image module (VL Image or US Image)."""
    ds.SamplesPerPixel = 3
    ds.PlanarConfiguration = 0
    ds.Rows, ds.Columns = height, width
    ds.BitsAllocated, ds.BitsStored, ds.HighBit = 8, 8, 7
    ds.PixelRepresentation = 0
    ds.BurnedInAnnotation = "NO"
    ds.ImageType = ["ORIGINAL", "PRIMARY"]
    if department != "ultrasound":
        ds.AcquisitionContextSequence = []  # type 2: nothing recorded beside the picture
