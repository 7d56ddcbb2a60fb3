"""A running core serves a published update at /updates/<role>/ without sign-in, GET only,
and the box's updater (the image's own script) takes it from that URL: SHA256SUMS and its
signature checked with the key the box trusts, the root streamed and checked; an altered
SHA256SUMS is refused. The admins' REST list and removal."""

from __future__ import annotations

import hashlib
from collections.abc import Iterator
from pathlib import Path
from types import ModuleType

import httpx
import pytest

from core_server import auth, updates
from tests.conftest import RunningCore
from tests.core_server.updates.helpers import update_folder, updater

ROLE = "display"
ID = f"imaging-{ROLE}"


@pytest.fixture(scope="module")
def core(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningCore]:
    folder = tmp_path_factory.mktemp("serving")
    running = RunningCore(folder / "data").start()
    store = updates.store_of(running.settings)
    updates.init_key(store.key, "测试医院")
    store.publish(ROLE, update_folder(folder / "src", ROLE, "20261208.1", "20261208.2"))
    try:
        yield running
    finally:
        running.stop()


@pytest.fixture(scope="module")
def up() -> ModuleType:
    return updater()


def test_the_files_are_served_without_sign_in_get_only(core: RunningCore) -> None:
    store = updates.store_of(core.settings)
    with httpx.Client(base_url=core.base_url, timeout=30) as anonymous:
        sums = anonymous.get(f"/updates/{ROLE}/SHA256SUMS")
        assert sums.status_code == 200, sums.text
        assert sums.headers["content-type"].startswith("text/plain")
        assert sums.content == (store.folder(ROLE) / "SHA256SUMS").read_bytes()
        signature = anonymous.get(f"/updates/{ROLE}/SHA256SUMS.gpg")
        assert signature.status_code == 200
        with anonymous.stream("GET", f"/updates/{ROLE}/{ID}_20261208.2.root.raw") as root:
            digest = hashlib.sha256()
            for chunk in root.iter_bytes():
                digest.update(chunk)
        assert f"{digest.hexdigest()}  {ID}_20261208.2.root.raw" in sums.text
        for path in (
            f"/updates/{ROLE}/{ID}_9.efi",  # not published
            f"/updates/{ROLE}/SHA256SUMS.part",
            "/updates/tls/update-signing.key",  # the key's folder is not a role's
            "/updates/caller/SHA256SUMS",
        ):
            answer = anonymous.get(path)
            assert answer.status_code == 404, path
            assert answer.json()["detail"]["code"] == "updates.not_served"
        assert anonymous.post(f"/updates/{ROLE}/SHA256SUMS").status_code == 405
        assert anonymous.delete(f"/updates/{ROLE}/SHA256SUMS").status_code == 405


def test_the_updater_verifies_what_the_core_serves(
    core: RunningCore, up: ModuleType, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    url = f"{core.base_url}/updates/{ROLE}/"
    public = updates.store_of(core.settings).key.public
    # The box trusts the core's key by its credential imaging.update-key (armoured or not).
    monkeypatch.setenv("CREDENTIALS_DIRECTORY", str(tmp_path))
    (tmp_path / "imaging.update-key").write_bytes(public.read_bytes())
    sums = up.fetch_sums(url, wait=30)
    assert sums is not None
    assert up.check_signature(sums.encode(), up.fetch_signature(url), up.trusted_keys()) is None
    offered = up.offered_sums(url, ID)
    assert offered is not None and up.newest(list(offered), "20261208.1") == "20261208.2"
    up.download(f"{url}{ID}_20261208.2.root.raw", tmp_path / "slot", offered["20261208.2"]["root"])
    assert (tmp_path / "slot").stat().st_size == 300_000


def test_another_key_or_an_unsigned_source_is_refused(
    core: RunningCore,
    up: ModuleType,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    url = f"{core.base_url}/updates/{ROLE}/"
    other = updates.SigningKey.beside(tmp_path / "other")
    updates.init_key(other, "")
    monkeypatch.setenv("CREDENTIALS_DIRECTORY", str(tmp_path))
    monkeypatch.setattr(up, "KEYRING", tmp_path / "none.gpg")
    (tmp_path / "imaging.update-key").write_bytes(other.public.read_bytes())
    assert up.offered_sums(url, ID) is None
    assert "REFUSED" in capsys.readouterr().out
    # No key at all: refused, unless the source is set unsigned explicitly.
    (tmp_path / "imaging.update-key").unlink()
    assert up.offered_sums(url, ID) is None
    (tmp_path / "imaging.update-verify").write_text("no")
    assert up.offered_sums(url, ID) is not None
    assert "set as unsigned" in capsys.readouterr().out


def test_admins_list_and_remove_versions(core: RunningCore) -> None:
    auth.create_user(core.core.engine, "reg-updates", "pass-word-1", "registrar")
    with core.api("reg-updates", "pass-word-1") as registrar:
        assert registrar.get("/api/updates").status_code == 403
        assert registrar.delete(f"/api/updates/{ROLE}/20261208.1").status_code == 403
    with core.api() as admin:
        listing = admin.get("/api/updates").json()
        assert listing["key"]["present"] and len(listing["key"]["fingerprint"]) == 40
        [role] = listing["roles"]
        assert (role["role"], role["signature"], role["url"]) == (ROLE, "good", "/updates/display/")
        assert [v["version"] for v in role["versions"]] == ["20261208.2", "20261208.1"]
        assert role["versions"][0]["size"] == 330_000
        assert role["versions"][0]["published_at"].endswith("+08:00")
        after = admin.delete(f"/api/updates/{ROLE}/20261208.1")
        assert after.status_code == 200, after.text
        assert [v["version"] for v in after.json()["roles"][0]["versions"]] == ["20261208.2"]
        assert after.json()["roles"][0]["signature"] == "good"
        gone = admin.delete(f"/api/updates/{ROLE}/20261208.1")
        assert gone.status_code == 404 and gone.json()["detail"]["code"] == "updates.no_version"
        events = admin.get("/api/audit", params={"action": "update.remove"}).json()["events"]
    assert any(e["target"] == f"update:{ROLE}/20261208.1" for e in events)
    assert httpx.get(f"{core.base_url}/updates/{ROLE}/{ID}_20261208.1.efi").status_code == 404
