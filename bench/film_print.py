"""Print SCP: time from the N-ACTION print of a film box to the sheet archived, and the
archived sheet's size.

A pynetdicom Print SCU prints a 4x5 CT sheet (STANDARD\\4,5, 14INX17IN, twenty 512x512 12-bit
images with an annotation) to a running core at the default ``film_dpi`` (150). The SCP
composes, archives (fsynced) and records the sheet before it answers the N-ACTION, so the
N-ACTION round trip is the time to sheet archived. Each round is a new association (film
session, film box, 20 image box N-SETs outside the timing).

    .venv/bin/python -m bench.film_print --rounds 20
"""

from __future__ import annotations

import argparse
import json
import statistics
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np
from pydicom import Dataset
from pydicom.sequence import Sequence
from pydicom.uid import generate_uid
from pynetdicom import AE

from core_server.film import print_scp as scp
from core_server.film import sheets
from core_server.film.sheets import DEFAULT_DPI
from tests.conftest import RunningCore


def _ct_image(seed: int) -> Dataset:
    rng = np.random.default_rng(seed)
    y, x = np.mgrid[0:512, 0:512]
    body = ((x - 256) ** 2 + (y - 256) ** 2 < 230**2) * 2000
    pixels = (body + rng.integers(0, 400, (512, 512))).clip(0, 4095).astype("<u2")
    item = Dataset()
    item.SamplesPerPixel, item.PhotometricInterpretation = 1, "MONOCHROME2"
    item.Rows = item.Columns = 512
    item.BitsAllocated, item.BitsStored, item.HighBit, item.PixelRepresentation = 16, 12, 11, 0
    item.PixelData = pixels.tobytes()
    mods = Dataset()
    mods.BasicGrayscaleImageSequence = Sequence([item])
    return mods


def _print_once(core: RunningCore, images: list[Dataset]) -> float:
    ae = AE(ae_title="CTBENCH")
    ae.dimse_timeout = 60
    ae.add_requested_context(scp.GRAYSCALE_META)
    assoc = ae.associate("127.0.0.1", core.dicom_port, ae_title=core.ae_title)
    assert assoc.is_established
    try:
        session = generate_uid()
        attrs = Dataset()
        attrs.NumberOfCopies = "1"
        assert (
            assoc.send_n_create(attrs, scp.FILM_SESSION, session, meta_uid=scp.GRAYSCALE_META)[
                0
            ].Status
            == 0
        )
        box = Dataset()
        ref = Dataset()
        ref.ReferencedSOPClassUID, ref.ReferencedSOPInstanceUID = scp.FILM_SESSION, session
        box.ReferencedFilmSessionSequence = Sequence([ref])
        box.ImageDisplayFormat, box.FilmSizeID = "STANDARD\\4,5", "14INX17IN"
        box.AnnotationDisplayFormatID = "ANNOTATION"
        box_uid = generate_uid()
        status, reply = assoc.send_n_create(box, scp.FILM_BOX, box_uid, meta_uid=scp.GRAYSCALE_META)
        assert status.Status == 0
        for item, mods in zip(reply.ReferencedImageBoxSequence, images, strict=True):
            done = assoc.send_n_set(
                mods,
                scp.GRAYSCALE_IMAGE_BOX,
                item.ReferencedSOPInstanceUID,
                meta_uid=scp.GRAYSCALE_META,
            )
            assert done[0].Status == 0
        text = Dataset()
        text.SpecificCharacterSet = "ISO_IR 192"
        text.AnnotationPosition, text.TextString = 1, "王建国 CT20261207001 胸部CT"
        annotation = reply.ReferencedBasicAnnotationBoxSequence[0].ReferencedSOPInstanceUID
        assoc.send_n_set(text, scp.ANNOTATION_BOX, annotation, meta_uid=scp.GRAYSCALE_META)
        started = time.perf_counter()
        status, _ = assoc.send_n_action(None, 1, scp.FILM_BOX, box_uid, meta_uid=scp.GRAYSCALE_META)
        took = time.perf_counter() - started
        assert status.Status == 0
        return took
    finally:
        assoc.release()


def run(rounds: int) -> dict[str, Any]:
    images = [_ct_image(n) for n in range(20)]
    with tempfile.TemporaryDirectory() as folder:
        core = RunningCore(Path(folder) / "data").start()
        try:
            times = [_print_once(core, images) for _ in range(rounds)]
            (row,) = sheets.unmatched_sheets(core.core.engine, limit=1)
            (stored,) = core.core.archive.locate({"SOPInstanceUID": row.sop_instance_uid})
            size = stored.path.stat().st_size
        finally:
            core.stop()
    ms = sorted(t * 1000 for t in times)
    return {
        "dpi": DEFAULT_DPI,
        "layout": "STANDARD\\4,5 14INX17IN, 20 x 512x512 12-bit, 1 annotation",
        "rounds": rounds,
        "print_to_archived_ms_p50": round(statistics.median(ms), 1),
        "print_to_archived_ms_p95": round(ms[min(len(ms) - 1, round(0.95 * (len(ms) - 1)))], 1),
        "sheet_bytes": size,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=20)
    print(json.dumps(run(parser.parse_args().rounds), indent=2, ensure_ascii=False))


if __name__ == "__main__":
    main()
