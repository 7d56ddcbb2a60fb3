"""The Print SCU against dcmtk's dcmprscp (what it stored, pixel for pixel) and against a
pynetdicom Print SCP that runs out of film (by N-GET status and by N-EVENT-REPORT)."""

from __future__ import annotations

import subprocess
from pathlib import Path

import numpy as np
import pytest
from pydicom import dcmread

from core_server.film.print_scu import Destination, PrinterError, print_film, query_printer
from core_server.film.sheet import FilmSheet, ImageBox
from tests.core_server.film.print_peers import OwnPrinter, dcmprscp, own_printer


def _sheet() -> FilmSheet:
    ramp = np.tile(np.arange(256, dtype=np.uint8), (64, 1))
    twelve = (np.arange(100 * 80, dtype=np.uint16).reshape(100, 80) * 7 % 4096).astype(np.uint16)
    return FilmSheet(
        display_format="STANDARD\\2,1",
        film_size="14INX17IN",
        images=[ImageBox(1, ramp), ImageBox(2, twelve, bits_stored=12)],
    )


def test_prints_to_dcmprscp_which_stores_the_film_box_and_the_pixels(tmp_path: Path) -> None:
    sheet = _sheet()
    with dcmprscp(tmp_path) as (port, database):
        to = Destination("TESTPRINTER", "127.0.0.1", port, medium="BLUE FILM")
        assert query_printer(to).status == "NORMAL"
        state = print_film(to, sheet, copies=2)
    assert state.status == "NORMAL"
    stored = [p for p in database.glob("SP_*.dcm")]
    assert len(stored) == 1
    dump = subprocess.run(["dcmdump", str(stored[0])], capture_output=True, text=True).stdout
    assert "[STANDARD\\2,1]" in dump and "[14INX17IN]" in dump and "[PORTRAIT]" in dump
    images = sorted((dcmread(p) for p in database.glob("HG_*.dcm")), key=lambda ds: int(ds.Rows))
    assert [(int(d.Rows), int(d.Columns), int(d.BitsStored)) for d in images] == [
        (64, 256, 8),
        (100, 80, 12),
    ]
    assert np.array_equal(images[0].pixel_array, sheet.images[0].pixels)
    assert np.array_equal(images[1].pixel_array, sheet.images[1].pixels)


def test_unreachable_printer_is_a_printer_error() -> None:
    from tests.conftest import free_port

    with pytest.raises(PrinterError) as raised:
        print_film(Destination("NOBODY", "127.0.0.1", free_port()), _sheet(), 1)
    assert raised.value.reason == "UNREACHABLE"


def test_own_printer_gets_session_film_box_and_image_boxes() -> None:
    printer = OwnPrinter()
    with own_printer(printer) as port:
        to = Destination("OWNPRINTER", "127.0.0.1", port, medium="CLEAR FILM", priority="HIGH")
        print_film(to, _sheet(), copies=3)
    session = printer.sessions[0]
    assert (session.NumberOfCopies, session.MediumType, session.PrintPriority) == (
        3,
        "CLEAR FILM",
        "HIGH",
    )
    assert session.FilmDestination == "PROCESSOR"
    assert printer.film_boxes[0].ImageDisplayFormat == "STANDARD\\2,1"
    assert [int(b.ImageBoxPosition) for b in printer.image_boxes] == [1, 2]
    assert printer.printed == 1


@pytest.mark.parametrize("how", ["status", "event"])
def test_no_film_fails_with_the_printers_reason(how: str) -> None:
    printer = OwnPrinter(out_of_film=how)
    with own_printer(printer) as port, pytest.raises(PrinterError) as raised:
        print_film(Destination("OWNPRINTER", "127.0.0.1", port), _sheet(), 1)
    assert raised.value.reason == "NO FILM"
    state = raised.value.state
    assert state is not None and state.status == "FAILURE"
    if how == "event":
        assert state.events[-1]["event"] == "FAILURE"
        assert state.events[-1]["info"] == "NO FILM"
    assert printer.printed == 0
