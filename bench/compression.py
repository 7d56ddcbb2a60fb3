"""Lossless compression per codec (JPEG-LS, JPEG 2000 lossless, RLE; lossy JPEG 2000 10:1 for
reference): ratio and encode/decode speed, through the archive's own codecs module
(core_server.storage.compression.codecs: pydicom with pyjpegls, pylibjpeg-openjpeg, RLE).

The corpus: pydicom's bundled real images (CT 128x128, MR 64x64, RGB, palette, multi-frame)
and 512x512 CT/MR slices made like scanner images (a body with organs and bone in air, a
little noise: random samples, as bench/corpus.py makes for the archive bench, would measure the
noise, not the codecs). Every lossless result is checked sample for sample.

    .venv/bin/python -m bench.compression [--slices 20] [--repeat 3] [--out FILE]
"""

from __future__ import annotations

import argparse
import json
import time
from io import BytesIO
from pathlib import Path
from typing import Any

import numpy as np
from pydicom import Dataset, dcmread
from pydicom.data import get_testdata_file

from core_server.storage.compression import codecs
from tests.dicom_data import encode, make_ct

REAL = (
    "CT_small.dcm",
    "MR_small.dcm",
    "SC_rgb_rle.dcm",
    "SC_rgb_rle_16bit.dcm",
    "SC_rgb_rle_2frame.dcm",
    "examples_palette.dcm",
    "MR_small_jp2klossless.dcm",
)
CODECS = {
    "JPEG-LS lossless": codecs.Target(codecs.LOSSLESS[0]),
    "JPEG 2000 lossless": codecs.Target(codecs.LOSSLESS[1]),
    "RLE lossless": codecs.Target(codecs.LOSSLESS[2]),
    "JPEG 2000 lossy 10:1": codecs.Target(codecs.LOSSY[0], 10),
}


def phantom(modality: str, number: int, rng: np.random.Generator) -> Dataset:
    """A 512x512 slice: air, a body ellipse, organs, a spine; 12-bit signed like CT (or
    unsigned like MR) with scanner-like noise."""
    size = 512
    y, x = np.mgrid[0:size, 0:size]
    body = ((x - 256) / 210) ** 2 + ((y - 260) / 160) ** 2 < 1
    organ = ((x - 200 - number) / 60) ** 2 + ((y - 230) / 45) ** 2 < 1
    spine = ((x - 256) / 22) ** 2 + ((y - 360) / 22) ** 2 < 1
    if modality == "CT":
        image = np.full((size, size), -1000.0)
        image[body] = 40
        image[organ] = 60
        image[spine] = 700
        image += rng.normal(0, 12, (size, size))
        pixels = np.clip(image, -1024, 3071).astype(np.int16)
    else:
        image = np.zeros((size, size))
        image[body] = 400
        image[organ] = 650
        image[spine] = 150
        image += np.abs(rng.normal(0, 8, (size, size)))
        pixels = np.clip(image, 0, 4095).astype(np.int16)
    ds = make_ct(size=size, modality=modality, instance_number=number)
    ds.BitsStored, ds.HighBit = 12, 11
    ds.PixelData = pixels.tobytes()
    return ds


def corpus(slices: int) -> dict[str, bytes]:
    rng = np.random.default_rng(14)
    found = {name: Path(str(get_testdata_file(name, download=False))).read_bytes() for name in REAL}
    for number in range(1, slices + 1):
        found[f"phantom-CT-{number}"] = encode(phantom("CT", number, rng))
    for number in range(1, slices // 2 + 1):
        found[f"phantom-MR-{number}"] = encode(phantom("MR", number, rng))
    return found


def measure(data: bytes, target: codecs.Target, repeat: int) -> dict[str, Any] | None:
    original = codecs.decompressed(dcmread(BytesIO(data)))
    native = len(original.PixelData)
    expected = original.pixel_array.copy()
    encode_s = decode_s = float("inf")
    made = b""
    for _ in range(repeat):
        ds = dcmread(BytesIO(encode(original)))
        start = time.perf_counter()
        try:
            codecs.compressed(ds, target)
        except codecs.CannotCompress:
            return None  # e.g. lossy JPEG 2000 of palette colour: not counted
        encode_s = min(encode_s, time.perf_counter() - start)
        made = codecs.encode(ds)
    compressed_size = 0
    for _ in range(repeat):
        back = dcmread(BytesIO(made))
        compressed_size = len(back.PixelData)
        start = time.perf_counter()
        samples = back.pixel_array
        decode_s = min(decode_s, time.perf_counter() - start)
    identical = bool(np.array_equal(samples, expected))
    if not target.lossy and not identical:
        raise AssertionError(f"{target.syntax} changed the samples")
    return {
        "native": native,
        "compressed": compressed_size,
        "encode_s": encode_s,
        "decode_s": decode_s,
        "identical": identical,
    }


def run(slices: int, repeat: int) -> dict[str, Any]:
    objects = corpus(slices)
    results: dict[str, Any] = {"objects": len(objects), "codecs": {}}
    for name, target in CODECS.items():
        measured = {key: measure(data, target, repeat) for key, data in objects.items()}
        rows = {key: row for key, row in measured.items() if row is not None}
        native = sum(r["native"] for r in rows.values())
        packed = sum(r["compressed"] for r in rows.values())
        enc = sum(r["encode_s"] for r in rows.values())
        dec = sum(r["decode_s"] for r in rows.values())
        phantom_rows = [r for k, r in rows.items() if k.startswith("phantom")]
        real_rows = [r for k, r in rows.items() if not k.startswith("phantom")]
        results["codecs"][name] = {
            "syntax": target.syntax,
            "ratio": round(native / packed, 2),
            "ratio_512_slices": round(_ratio(phantom_rows), 2),
            "ratio_real_small": round(_ratio(real_rows), 2),
            "encode_MB_s": round(native / enc / 1e6, 1),
            "decode_MB_s": round(native / dec / 1e6, 1),
            "encode_ms_per_512_slice": round(
                1000 * sum(r["encode_s"] for r in phantom_rows) / max(1, len(phantom_rows)), 1
            ),
            "decode_ms_per_512_slice": round(
                1000 * sum(r["decode_s"] for r in phantom_rows) / max(1, len(phantom_rows)), 1
            ),
            "all_identical": all(r["identical"] for r in rows.values()),
            "skipped": sorted(key for key, row in measured.items() if row is None),
        }
    return results


def _ratio(rows: list[dict[str, Any]]) -> float:
    return sum(r["native"] for r in rows) / max(1, sum(r["compressed"] for r in rows))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--slices", type=int, default=20, help="512x512 CT phantoms (MR: half)")
    parser.add_argument("--repeat", type=int, default=3, help="best of N timings")
    parser.add_argument("--out", type=Path, default=None, help="JSON results file")
    args = parser.parse_args()
    results = run(args.slices, args.repeat)
    header = f"{'codec':22} {'ratio':>6} {'512²':>6} {'small':>6} {'enc MB/s':>9} {'dec MB/s':>9}"
    print(header)
    for name, r in results["codecs"].items():
        print(
            f"{name:22} {r['ratio']:6.2f} {r['ratio_512_slices']:6.2f} "
            f"{r['ratio_real_small']:6.2f} {r['encode_MB_s']:9.1f} {r['decode_MB_s']:9.1f}"
        )
    if args.out:
        args.out.write_text(json.dumps(results, indent=2))


if __name__ == "__main__":
    main()
