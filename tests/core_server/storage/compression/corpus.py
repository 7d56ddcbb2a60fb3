"""The objects the compression tests and the bench compress: pydicom's bundled files and
generated ones for what the wheel lacks (8- and 12-bit monochrome, a monochrome multi-frame)."""

from __future__ import annotations

import numpy as np
from pydicom import Dataset, dcmread
from pydicom.uid import generate_uid

from tests.dicom_data import make_ct, testdata

# name -> what it stands for in the corpus
BUNDLED = {
    "CT_small.dcm": "CT, 16-bit signed",
    "MR_small.dcm": "MR, 16-bit",
    "MR_small_RLE.dcm": "MR stored RLE",
    "MR_small_jpeg_ls_lossless.dcm": "MR stored JPEG-LS",
    "MR_small_jp2klossless.dcm": "MR stored JPEG 2000 lossless",
    "SC_rgb_rle.dcm": "RGB 8-bit",
    "SC_rgb_rle_16bit.dcm": "RGB 16-bit",
    "SC_rgb_rle_2frame.dcm": "RGB multi-frame",
    "examples_palette.dcm": "palette colour, 8-bit",
}


def bundled() -> dict[str, Dataset]:
    return {name: dcmread(testdata(name)) for name in BUNDLED}


def generated() -> dict[str, Dataset]:
    """Monochrome 8-bit and 12-bit images and a 5-frame 12-bit one, with content a codec can
    get wrong (gradients, noise, the full range)."""
    rng = np.random.default_rng(14)
    made: dict[str, Dataset] = {}
    eight = make_ct(size=64, modality="DX", PixelRepresentation=0)
    eight.BitsAllocated = eight.BitsStored = 8
    eight.HighBit = 7
    eight.PixelData = rng.integers(0, 256, (64, 64), dtype=np.uint8).tobytes()
    made["mono8"] = eight
    twelve = make_ct(size=64, modality="MR", PixelRepresentation=0)
    twelve.BitsStored, twelve.HighBit = 12, 11
    ramp = (np.arange(64 * 64).reshape(64, 64) % 4096).astype(np.uint16)
    twelve.PixelData = ramp.tobytes()
    made["mono12"] = twelve
    frames = make_ct(size=32, modality="XA", PixelRepresentation=0)
    frames.BitsStored, frames.HighBit = 12, 11
    frames.NumberOfFrames = 5
    frames.PixelData = rng.integers(0, 4096, (5, 32, 32), dtype=np.uint16).tobytes()
    made["mono12_5frames"] = frames
    signed = make_ct(size=48)
    signed.PixelData = rng.integers(-1024, 3072, (48, 48), dtype=np.int16).tobytes()
    made["ct_signed_noise"] = signed
    return made


def corpus() -> dict[str, Dataset]:
    every = {**bundled(), **generated()}
    for ds in every.values():
        ds.SOPInstanceUID = ds.file_meta.MediaStorageSOPInstanceUID = generate_uid()
    return every
