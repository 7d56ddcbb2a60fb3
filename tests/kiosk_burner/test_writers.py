"""The ISO-only writer and the local drive (xorriso with ``stdio:FILE`` as the drive): burn,
verify by read-back SHA-256, the contract's reasons when it goes wrong, make_writer."""

from __future__ import annotations

import hashlib
import stat
from pathlib import Path

import pytest

from kiosk_burner.hardware import (
    EpsonTdBridge,
    IsoOnlyWriter,
    PrimeraPtBurn,
    XorrisoDrive,
    make_writer,
)
from tests.kiosk_burner.writer_fixtures import LABEL, final, make_disc, wait_for


def test_iso_only_leaves_the_complete_image_and_label(tmp_path: Path) -> None:
    disc = make_disc(tmp_path)
    out = tmp_path / "out"
    writer = IsoOnlyWriter(out)
    assert writer.is_available().ok and writer.robot_state().ok
    writer.submit(disc, LABEL, 1, "job7-1")
    writer.submit(disc, LABEL, 1, "job7-1")  # idempotent
    assert wait_for(lambda: writer.progress("job7-1"), final).state == "done"
    iso = out / "job7-1.iso"
    assert hashlib.sha256(iso.read_bytes()).hexdigest() == disc.sha256
    assert (out / "job7-1.label.png").read_bytes().startswith(b"\x89PNG")
    assert (out / "job7-1.label.pdf").read_bytes().startswith(b"%PDF")
    assert not list(out.glob("*.part"))  # nothing left under a temporary name


def test_iso_only_unknown_key_and_cancel(tmp_path: Path) -> None:
    writer = IsoOnlyWriter(tmp_path / "out")
    assert writer.progress("nope").state == "failed"
    writer.submit(make_disc(tmp_path), LABEL, 1, "k")
    writer.cancel("k")
    assert writer.progress("k").state == "cancelled"
    assert not (tmp_path / "out" / "k.iso").exists()


def test_xorriso_burns_and_verifies_into_a_stdio_drive(tmp_path: Path) -> None:
    disc = make_disc(tmp_path)
    medium = tmp_path / "drive.bin"
    drive = XorrisoDrive(f"stdio:{medium}")
    assert drive.is_available().ok
    drive.submit(disc, LABEL, 1, "j1")
    result = wait_for(lambda: drive.progress("j1"), final, timeout=60)
    assert result.state == "done", result
    assert medium.stat().st_size >= disc.size_bytes  # the track is padded
    assert drive.read_back_sha256(disc.size_bytes) == disc.sha256


def _fake_xorriso(tmp_path: Path, body: str) -> str:
    script = tmp_path / "xorriso"
    script.write_text("#!/bin/sh\n" + body)
    script.chmod(script.stat().st_mode | stat.S_IEXEC)
    return str(script)


@pytest.mark.parametrize(
    ("script", "reason"),
    [
        # a written (closed) disc in the drive
        ('echo "Media status : is written , is closed"; echo "Media space  : 0s"', "no_blank_disc"),
        # no disc at all: xorriso fails to acquire the medium
        ('echo "xorriso : FAILURE : no media"; exit 5', "no_blank_disc"),
        # blank but too small for the image
        ('echo "Media status : is blank"; echo "Media space  : 10s"', "disc_too_small"),
        # the burn itself fails
        (
            'case "$*" in *cdrecord*) echo "libburn : FAILURE : write error"; exit 1;; esac\n'
            'echo "Media status : is blank"; echo "Media space  : 999999s"',
            "burn_failed",
        ),
    ],
)
def test_xorriso_errors_map_to_the_contract_reasons(
    tmp_path: Path, script: str, reason: str
) -> None:
    drive = XorrisoDrive("/dev/null", program=_fake_xorriso(tmp_path, script), eject=False)
    drive.submit(make_disc(tmp_path), LABEL, 1, "k")
    result = wait_for(lambda: drive.progress("k"), final)
    assert (result.state, result.reason) == ("failed", reason)


def test_xorriso_verify_failed_when_the_medium_reads_back_wrong(tmp_path: Path) -> None:
    disc = make_disc(tmp_path)
    medium = tmp_path / "drive.bin"
    # the real xorriso burns, then one byte of the "disc" goes bad
    body = (
        f'xorriso "$@"; rc=$?\ncase "$*" in *cdrecord*) printf X | dd of={medium} bs=1 '
        f"seek=40000 conv=notrunc 2>/dev/null;; esac\nexit $rc\n"
    )
    drive = XorrisoDrive(f"stdio:{medium}", program=_fake_xorriso(tmp_path, body))
    drive.submit(disc, LABEL, 1, "k")
    result = wait_for(lambda: drive.progress("k"), final, timeout=60)
    assert (result.state, result.reason) == ("failed", "verify_failed")


def test_xorriso_unknown_key_is_never_done(tmp_path: Path) -> None:
    assert XorrisoDrive(f"stdio:{tmp_path}/x").progress("lost").state == "failed"


def test_availability_lists_what_is_missing(tmp_path: Path) -> None:
    drive = XorrisoDrive("/dev/sr9", program="no-such-xorriso")
    availability = drive.is_available()
    assert not availability.ok
    assert any("no-such-xorriso" in m for m in availability.missing)
    assert any("/dev/sr9" in m for m in availability.missing)
    epson = EpsonTdBridge(tmp_path / "none").is_available()
    assert any("TDBStatus.txt" in m for m in epson.missing)


def test_make_writer_by_setting(tmp_path: Path) -> None:
    assert isinstance(make_writer({"writer": "iso", "iso_folder": tmp_path}), IsoOnlyWriter)
    drive = make_writer({"writer": "xorriso", "drive_device": "stdio:/tmp/x"})
    assert isinstance(drive, XorrisoDrive) and drive.device == "stdio:/tmp/x"
    epson = make_writer({"writer": "epson", "hot_folder": tmp_path, "robot_encoding": "utf-8-sig"})
    assert isinstance(epson, EpsonTdBridge) and epson.encoding == "utf-8-sig"
    primera = make_writer({"writer": "primera", "hot_folder": tmp_path})
    assert isinstance(primera, PrimeraPtBurn) and primera.encoding == "gb18030"
    with pytest.raises(ValueError):
        make_writer({"writer": "floppy"})
    with pytest.raises(LookupError):
        make_writer({"writer": "epson", "hot_folder": tmp_path, "robot_encoding": "klingon"})
