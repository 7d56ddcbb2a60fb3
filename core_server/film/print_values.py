"""The values of Print Management requests, checked: statuses, enumerated attributes,
densities, copies and the pixels of a Preformatted Grayscale/Color Image Sequence item
(PS3.3 C.13). Raises :class:`Answer` with the DIMSE status a bad value gets."""

from __future__ import annotations

import numpy as np
from pydicom import Dataset

SUCCESS = 0x0000
INVALID_VALUE = 0x0106
PROCESSING_FAILURE = 0x0110
DUPLICATE_INSTANCE = 0x0111
NO_SUCH_INSTANCE = 0x0112
NO_SUCH_CLASS = 0x0118
CLASS_INSTANCE_CONFLICT = 0x0119
MISSING_ATTRIBUTE = 0x0120
NO_SUCH_ACTION = 0x0123
NOT_AUTHORIZED = 0x0124
EMPTY_PAGE = 0xB603  # Film Box N-ACTION: no image box has an image (nothing printed)
NO_FILM_BOX = 0xC600  # Film Session N-ACTION: the session has no film box
PRINT = 1  # the one Action Type ID of Film Session and Film Box

# Attributes some modalities add to the film objects: they tie the sheet to an exam.
HINT_KEYS = ("AccessionNumber", "PatientID", "PatientName", "StudyInstanceUID")


class Answer(Exception):
    """A request answered with a status other than success (raised inside this module)."""

    def __init__(self, code: int, comment: str) -> None:
        super().__init__(comment)
        self.code, self.comment = code, comment


def answer_status(code: int, comment: str = "") -> Dataset:
    """A status data set; the Error Comment is at most 64 characters (its VR's limit)."""
    found = Dataset()
    found.Status = code
    if comment:
        found.ErrorComment = comment[:64]
    return found


def text(ds: Dataset, keyword: str, default: str = "") -> str:
    value = ds.get(keyword)
    return default if value in (None, "") else str(value).strip().upper()


def choice(ds: Dataset, keyword: str, allowed: set[str], default: str) -> str:
    value = text(ds, keyword, default)
    if value not in allowed:
        raise Answer(INVALID_VALUE, f"{keyword} {value} not supported")
    return value


def density(ds: Dataset, keyword: str, default: str) -> str:
    """BLACK or WHITE; a density in hundredths of OD is BLACK from 1.00 OD (composed as shown:
    a sheet is black or white around its images)."""
    value = text(ds, keyword, default)
    if value in ("BLACK", "WHITE"):
        return value
    if value.isdigit():
        return "BLACK" if int(value) >= 100 else "WHITE"
    raise Answer(INVALID_VALUE, f"{keyword} {value} not supported")


def collect_hints(ds: Dataset, into: dict[str, str], references: list[str]) -> None:
    """Exam hints and referenced images a modality left in a film object (or its items)."""
    for key in HINT_KEYS:
        value = ds.get(key)
        if value not in (None, "") and key not in into:
            into[key] = str(value).strip()
    for keyword in ("ReferencedImageSequence", "SourceImageSequence"):
        for item in ds.get(keyword) or []:
            uid = str(item.get("ReferencedSOPInstanceUID") or "")
            if uid and uid not in references:
                references.append(uid)


def copies(attrs: Dataset) -> int:
    value = attrs.get("NumberOfCopies")
    if value in (None, ""):
        return 1
    try:
        count = int(value)
    except (TypeError, ValueError):
        count = 0
    if not 1 <= count <= 99:
        raise Answer(INVALID_VALUE, f"Number of Copies {value} not in 1-99")
    return count


def pixels(item: Dataset, *, color: bool) -> np.ndarray:
    """The pixels of a Preformatted Grayscale/Color Image Sequence item, checked."""
    for keyword in ("Rows", "Columns", "PixelData", "PhotometricInterpretation"):
        if item.get(keyword) in (None, b"", ""):
            raise Answer(MISSING_ATTRIBUTE, f"{keyword} missing in the image")
    rows, columns = int(item.Rows), int(item.Columns)
    photometric = text(item, "PhotometricInterpretation")
    allocated, stored = int(item.get("BitsAllocated") or 8), int(item.get("BitsStored") or 8)
    samples = int(item.get("SamplesPerPixel") or (3 if color else 1))
    if not (0 < rows <= 8192 and 0 < columns <= 8192):
        raise Answer(INVALID_VALUE, f"image of {rows}x{columns} not printable")
    if color:
        if photometric != "RGB" or samples != 3 or (allocated, stored) != (8, 8):
            raise Answer(INVALID_VALUE, "a colour image box takes 8-bit RGB")
    elif (
        photometric not in ("MONOCHROME1", "MONOCHROME2")
        or samples != 1
        or (allocated, stored) not in ((8, 8), (16, 12))
        or int(item.get("PixelRepresentation") or 0) != 0
    ):
        raise Answer(INVALID_VALUE, "a grayscale image box takes 8 or 12 bit MONOCHROME1/2")
    dtype = np.dtype("<u2") if allocated == 16 else np.dtype(np.uint8)
    count = rows * columns * samples
    data = bytes(item.PixelData)
    if len(data) < count * dtype.itemsize:
        raise Answer(INVALID_VALUE, "Pixel Data shorter than Rows x Columns")
    values = np.frombuffer(data, dtype=dtype, count=count)
    if not color:
        return (np.bitwise_and(values, 0x0FFF) if allocated == 16 else values).reshape(
            rows, columns
        )
    if int(item.get("PlanarConfiguration") or 0) == 1:
        return values.reshape(3, rows, columns).transpose(1, 2, 0).copy()
    return values.reshape(rows, columns, 3)
