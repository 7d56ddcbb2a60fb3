"""The image's A/B updater (images/common/extra/usr/lib/imaging/imaging_update.py) without a
box: which versions an update folder offers, which one is installed, into which slot, which
ones are skipped after a rollback; the signature check (good, bad, missing, another key) and
the maintenance window. Fast, in the normal suite; the QEMU run that applies an
update is test_update_image.py (opt-in)."""

from __future__ import annotations

import configparser
import hashlib
import http.server
import shutil
import subprocess
import threading
from datetime import UTC, datetime, timedelta
from functools import partial
from pathlib import Path

import pytest

from core_server.updates.signing import SigningKey, init_key, sign
from tests.core_server.updates.helpers import UPDATER, updater

ID = "imaging-display"
up = updater()


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


# Signatures: keys made by the core's own signing code (Debian's gpg), checked by the box's
# gpgv, as on the appliance.


@pytest.fixture(scope="module")
def keys(tmp_path_factory: pytest.TempPathFactory) -> tuple[SigningKey, SigningKey]:
    folder = tmp_path_factory.mktemp("keys")
    ours, other = SigningKey.beside(folder / "ours"), SigningKey.beside(folder / "other")
    init_key(ours, "测试医院")
    init_key(other, "another hospital")
    return ours, other


def _signed(key: SigningKey, folder: Path, text: str) -> tuple[bytes, bytes]:
    sums = folder / "SHA256SUMS"
    sums.write_text(text)
    return sums.read_bytes(), sign(key, sums).read_bytes()


def test_a_good_signature_by_a_trusted_key_is_taken(
    keys: tuple[SigningKey, SigningKey], tmp_path: Path
) -> None:
    ours, other = keys
    sums, signature = _signed(ours, tmp_path, f"{'a' * 64}  {ID}_2.efi\n")
    assert up.check_signature(sums, signature, [ours.public.read_bytes()]) is None
    # The credential's armoured key is the same key once dearmoured; several keys may be trusted.
    armoured = subprocess.run(
        ["gpg", "--enarmor"], input=ours.public.read_bytes(), capture_output=True, check=True
    ).stdout
    assert up.dearmor(armoured.replace(b"ARMORED FILE", b"PUBLIC KEY BLOCK")) == (
        ours.public.read_bytes()
    )
    assert (
        up.check_signature(sums, signature, [other.public.read_bytes(), ours.public.read_bytes()])
        is None
    )


def test_missing_bad_and_other_key_signatures_are_refused(
    keys: tuple[SigningKey, SigningKey], tmp_path: Path
) -> None:
    ours, other = keys
    trusted = [ours.public.read_bytes()]
    sums, signature = _signed(ours, tmp_path, f"{'a' * 64}  {ID}_2.efi\n")
    assert "not signed" in (up.check_signature(sums, None, trusted) or "")
    altered = sums.replace(b"a" * 64, b"b" * 64)
    assert "bad signature" in (up.check_signature(altered, signature, trusted) or "")
    _, by_other = _signed(other, tmp_path, sums.decode())
    assert "does not trust" in (up.check_signature(sums, by_other, trusted) or "")
    assert "no update key" in (up.check_signature(sums, signature, []) or "")
    assert "not a valid signature" in (up.check_signature(sums, b"garbage", trusted) or "")


def test_the_image_keyring_and_the_credential_key_are_trusted(
    keys: tuple[SigningKey, SigningKey], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    ours, other = keys
    monkeypatch.setenv("CREDENTIALS_DIRECTORY", str(tmp_path / "credentials"))
    assert up.trusted_keys(tmp_path / "none.gpg") == []
    assert up.trusted_keys(ours.public) == [ours.public.read_bytes()]
    (tmp_path / "credentials").mkdir()
    (tmp_path / "credentials/imaging.update-key").write_bytes(other.public.read_bytes())
    assert up.trusted_keys(ours.public) == [ours.public.read_bytes(), other.public.read_bytes()]


SHANGHAI = up.zone_of("Asia/Shanghai")


def _utc(text: str) -> datetime:
    return datetime.fromisoformat(text).replace(tzinfo=UTC)


def test_the_maintenance_window_is_hospital_time() -> None:
    window = up.parse_window("02:00-05:00", SHANGHAI)
    assert up.in_window(_utc("2026-12-07T18:00:00"), window)  # 02:00 in Shanghai
    assert up.in_window(_utc("2026-12-07T20:59:59"), window)  # 04:59:59
    assert not up.in_window(_utc("2026-12-07T21:00:00"), window)  # 05:00: closed
    assert not up.in_window(_utc("2026-12-08T02:00:00"), window)  # 10:00, the working day
    # At 10:00 on the 8th the next window opens at 02:00 on the 9th (18:00 UTC on the 8th).
    assert up.next_window(_utc("2026-12-08T02:00:00"), window) == _utc("2026-12-08T18:00:00")
    # At 01:00 Shanghai it opens the same night, an hour later.
    assert up.next_window(_utc("2026-12-07T17:00:00"), window) == _utc("2026-12-07T18:00:00")


def test_a_window_over_midnight_and_always() -> None:
    night = up.parse_window("22:30-04:00", SHANGHAI)
    assert up.in_window(_utc("2026-12-07T15:00:00"), night)  # 23:00
    assert up.in_window(_utc("2026-12-07T19:00:00"), night)  # 03:00
    assert not up.in_window(_utc("2026-12-07T06:00:00"), night)  # 14:00
    assert up.next_window(_utc("2026-12-07T06:00:00"), night) == _utc("2026-12-07T14:30:00")
    assert up.in_window(_utc("2026-12-07T06:00:00"), up.parse_window("always", SHANGHAI))
    with pytest.raises(SystemExit, match="HH:MM-HH:MM"):
        up.parse_window("2am-5am", SHANGHAI)
    assert up.zone_of("Asia/Shanghai").utcoffset(datetime(2026, 7, 1)) == timedelta(hours=8)


def test_outside_the_window_the_reboot_is_planned_not_done(monkeypatch: pytest.MonkeyPatch) -> None:
    calls: list[list[str]] = []

    def run(command: list[str], check: bool = False) -> subprocess.CompletedProcess[str]:
        calls.append(command)
        return subprocess.CompletedProcess(command, 3)  # is-active: no timer planned yet

    monkeypatch.setattr(up.subprocess, "run", run)
    window = up.parse_window("02:00-05:00", SHANGHAI)
    up.plan_reboot("2", window, _utc("2026-12-08T02:00:00"))  # 10:00 in Shanghai
    assert ["systemctl", "reboot"] not in calls
    planned = calls[-1]
    assert planned[0] == "systemd-run" and planned[-2:] == ["/usr/bin/systemctl", "reboot"]
    at = next(a for a in planned if a.startswith("--on-calendar="))
    when = datetime.strptime(at.split("=", 1)[1], "%Y-%m-%d %H:%M:%S UTC").replace(tzinfo=UTC)
    assert _utc("2026-12-08T18:00:00") <= when <= _utc("2026-12-08T18:30:00")
    calls.clear()
    up.plan_reboot("2", window, _utc("2026-12-07T19:00:00"))  # 03:00: now
    assert calls == [["systemctl", "reboot"]]


def test_a_version_written_and_waiting_for_its_reboot_is_not_fetched_again() -> None:
    a = up.Slot("/dev/vda2", 2, f"{ID}_1", 1 << 29)
    b = up.Slot("/dev/vda3", 3, f"{ID}_2", 1 << 29)
    assert up.staged([a, b], [f"{ID}_1.efi", f"{ID}_2+3.efi"], ID, "1") == "2"
    assert up.staged([a, b], [f"{ID}_1.efi", f"{ID}_2+0-3.efi"], ID, "1") is None  # failed
    assert up.staged([a, b], [f"{ID}_1.efi"], ID, "1") is None  # no kernel: half-written
    assert up.staged([a, b], [f"{ID}_1.efi", f"{ID}_2.efi"], ID, "2") is None  # running it
    empty = up.Slot("/dev/vda3", 3, "_empty", 1 << 29)
    assert up.staged([a, empty], [f"{ID}_1.efi"], ID, "1") is None


UNITS = UPDATER.parents[2] / "lib/systemd/system"


def test_the_timer_and_service_verify_and_the_timer_comes_with_the_service(
    tmp_path: Path,
) -> None:
    """systemd-analyze verify is clean for both units; the timer looks every 6 h at a random
    moment, and enabling the service (the image's post-install) enables the timer too."""
    for unit in ("imaging-update.service", "imaging-update.timer"):
        shutil.copy(UNITS / unit, tmp_path / unit)
    done = subprocess.run(
        ["systemd-analyze", "verify", "--man=no", str(tmp_path / "imaging-update.timer")],
        capture_output=True,
        text=True,
        env={"SYSTEMD_LOG_LEVEL": "warning", "PATH": "/usr/bin:/bin"},
    )
    assert done.returncode == 0 and done.stderr == "", done.stderr
    timer = configparser.ConfigParser(strict=False)
    timer.read(UNITS / "imaging-update.timer")
    assert dict(timer["Timer"]) == {
        "onbootsec": "5min",
        "onunitactivesec": "6h",
        "randomizeddelaysec": "30min",
        "accuracysec": "1min",
    }
    service = (UNITS / "imaging-update.service").read_text()
    assert "Also=imaging-update.timer" in service
    assert "IMAGING_UPDATE_WINDOW=02:00-05:00" in service


def test_the_history_counts_boots_not_timer_runs(tmp_path: Path) -> None:
    state = tmp_path / "state"
    up.remember("1", state, boot="boot-a")
    assert up.remember("1", state, boot="boot-a") == "booted 1\n"  # the timer's run, same boot
    assert up.remember("1", state, boot="boot-b") == "booted 1\nbooted 1\n"


def test_a_staged_version_no_longer_offered_loses_its_kernel(tmp_path: Path) -> None:
    esp = tmp_path / "esp"
    esp.mkdir()
    for name in (f"{ID}_1.efi", f"{ID}_2+3.efi", f"{ID}_20+3.efi"):
        (esp / name).touch()
    up.withdraw("2", ID, esp)
    assert sorted(p.name for p in esp.iterdir()) == [f"{ID}_1.efi", f"{ID}_20+3.efi"]
