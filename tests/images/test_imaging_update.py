"""The image's A/B updater (images/common/extra/usr/lib/imaging/imaging_update.py) without a
box: which versions an update folder offers, which one is installed, into which slot, which
ones are skipped after a rollback. Fast, in the normal suite; the QEMU run that applies an
update is test_update_image.py (opt-in)."""

from __future__ import annotations

import hashlib
import http.server
import importlib.util
import sys
import threading
from functools import partial
from pathlib import Path
from types import ModuleType

import pytest

SCRIPT = (
    Path(__file__).resolve().parents[2] / "images/common/extra/usr/lib/imaging/imaging_update.py"
)
ID = "imaging-display"


def _load() -> ModuleType:
    spec = importlib.util.spec_from_file_location("imaging_update", SCRIPT)
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up
    spec.loader.exec_module(module)
    return module


up = _load()


def test_versions_compare_as_numbers_then_text() -> None:
    assert up.version_key("20261207.99") < up.version_key("20261207.100")
    assert up.version_key("20261207.1") < up.version_key("20261207.1.1")
    assert up.newest(["20261207.99", "20261207.100", "20261206.900"], "20261207.5") == (
        "20261207.100"
    )
    assert up.newest(["20261207.5", "20261201.1"], "20261207.5") is None


def test_only_versions_with_both_artefacts_are_offered() -> None:
    sums = "\n".join(
        [
            f"{'a' * 64}  {ID}_2.root.raw",
            f"{'b' * 64}  {ID}_2.efi",
            f"{'c' * 64}  {ID}_3.root.raw",  # no kernel: incomplete
            f"{'d' * 64}  imaging-caller_4.efi",  # another role
            "garbage",
        ]
    )
    assert up.available(sums, ID) == {"2": {"root": "a" * 64, "efi": "b" * 64}}


def test_slot_is_the_empty_one_else_the_oldest_never_the_running_one() -> None:
    a = up.Slot("/dev/vda2", 2, f"{ID}_1", 1 << 29)
    b_empty = up.Slot("/dev/vda3", 3, "_empty", 1 << 29)
    assert up.choose_slot([a, b_empty], ID, "1") == b_empty
    b_old = up.Slot("/dev/vda3", 3, f"{ID}_0", 1 << 29)
    assert up.choose_slot([a, b_old], ID, "1") == b_old
    # Booted from B (version 2): A's older version is overwritten, not B.
    b_new = up.Slot("/dev/vda3", 3, f"{ID}_2", 1 << 29)
    assert up.choose_slot([a, b_new], ID, "2") == a
    with pytest.raises(SystemExit):
        up.choose_slot([a], ID, "1")


def test_a_version_that_never_booted_is_not_installed_again() -> None:
    kernels = [f"{ID}_1.efi", f"{ID}_2+0-3.efi", f"{ID}_3+2-1.efi", "imaging-caller_9+0-3.efi"]
    bad = up.failed(kernels, ID)
    assert bad == {"2"}
    assert up.newest(["2"], "1", bad) is None
    assert up.newest(["2", "3"], "1", bad) == "3"


def test_download_checks_the_sha256_and_the_slot_size(tmp_path: Path) -> None:
    folder = tmp_path / "updates"
    folder.mkdir()
    payload = b"root" * 1000
    (folder / "x.root.raw").write_bytes(payload)
    handler = partial(http.server.SimpleHTTPRequestHandler, directory=str(folder))
    handler.log_message = lambda *args: None  # type: ignore[attr-defined]
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    url = f"http://127.0.0.1:{server.server_address[1]}/x.root.raw"
    try:
        good = hashlib.sha256(payload).hexdigest()
        up.download(url, tmp_path / "ok", good)
        assert (tmp_path / "ok").read_bytes() == payload
        with pytest.raises(SystemExit, match="SHA256"):
            up.download(url, tmp_path / "bad", "0" * 64)
        with pytest.raises(SystemExit, match="bigger than the slot"):
            up.download(url, tmp_path / "small", good, limit=100)
    finally:
        server.shutdown()
        server.server_close()


def test_history_is_kept_across_runs(tmp_path: Path) -> None:
    up.remember("1", tmp_path / "state")
    assert up.remember("2", tmp_path / "state") == "booted 1\nbooted 2\n"


def test_an_unreachable_source_is_waited_for_then_given_up(tmp_path: Path) -> None:
    # A port nobody listens on: refused at once, retried until the wait is over.
    assert up.fetch_sums("http://127.0.0.1:9/", wait=0.2, pause=0.05) is None
