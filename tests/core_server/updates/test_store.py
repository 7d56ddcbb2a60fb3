"""The store of published updates without a running core: publishing checks and copies a
folder and signs the role's SHA256SUMS; a version never changes; removing re-signs; the key
is made once; the CLI does the same."""

from __future__ import annotations

from pathlib import Path

import pytest

from core_server import cli
from core_server.refusals import Conflict, Invalid, NotFound
from core_server.updates import SigningKey, UpdateStore, init_key, verify
from core_server.updates.store import parse_sums
from tests.core_server.updates.helpers import update_folder


@pytest.fixture(scope="module")
def key(tmp_path_factory: pytest.TempPathFactory) -> SigningKey:
    made = SigningKey.beside(tmp_path_factory.mktemp("tls"))
    init_key(made, "测试医院")
    return made


def test_publish_copies_checks_and_signs(key: SigningKey, tmp_path: Path) -> None:
    store = UpdateStore(tmp_path / "updates", key)
    assert store.publish("display", update_folder(tmp_path / "v2", "display", "2")) == ["2"]
    assert store.publish("display", update_folder(tmp_path / "v10", "display", "10")) == ["10"]
    sums = store.folder("display") / "SHA256SUMS"
    assert sorted(parse_sums(sums.read_text())) == [
        "imaging-display_10.efi",
        "imaging-display_10.root.raw",
        "imaging-display_2.efi",
        "imaging-display_2.root.raw",
    ]
    assert verify(key.public, sums) == "good"
    [role] = store.roles()
    assert (role.role, role.signature) == ("display", "good")
    assert [v.version for v in role.versions] == ["10", "2"]  # newest first, as numbers
    assert role.versions[0].size == 300_000 + 30_000
    # Only what SHA256SUMS lists (and the two lists) is served.
    assert store.served("display", "imaging-display_2.efi") is not None
    assert store.served("display", "SHA256SUMS.gpg") is not None
    for name in ("SHA256SUMS.part", "../SHA256SUMS", "imaging-display_3.efi"):
        assert store.served("display", name) is None
    assert store.served("../tls", "update-signing.key") is None


def test_remove_resigns_and_deletes(key: SigningKey, tmp_path: Path) -> None:
    store = UpdateStore(tmp_path / "updates", key)
    store.publish("caller", update_folder(tmp_path / "src", "caller", "1", "2"))
    store.remove("caller", "1")
    assert [v.version for v in store.roles()[0].versions] == ["2"]
    assert not (store.folder("caller") / "imaging-caller_1.root.raw").exists()
    assert verify(key.public, store.folder("caller") / "SHA256SUMS") == "good"
    with pytest.raises(NotFound):
        store.remove("caller", "1")


def test_a_published_version_never_changes(key: SigningKey, tmp_path: Path) -> None:
    store = UpdateStore(tmp_path / "updates", key)
    store.publish("display", update_folder(tmp_path / "a", "display", "2"))
    assert store.publish("display", tmp_path / "a") == ["2"]  # the same again: fine
    other = update_folder(tmp_path / "b", "display", "2", size=1000)
    with pytest.raises(Conflict):
        store.publish("display", other)


def test_a_bad_folder_is_refused(key: SigningKey, tmp_path: Path) -> None:
    store = UpdateStore(tmp_path / "updates", key)
    folder = update_folder(tmp_path / "src", "display", "2")
    with pytest.raises(Invalid):  # nothing for that role in it
        store.publish("caller", folder)
    with pytest.raises(Invalid):
        store.publish("Bad/Role", folder)
    (folder / "imaging-display_2.efi").write_bytes(b"changed after the sums")
    with pytest.raises(Invalid):
        store.publish("display", folder)
    (folder / "imaging-display_2.efi").unlink()
    with pytest.raises(NotFound):
        store.publish("display", folder)
    (folder / "SHA256SUMS").write_text(
        (folder / "SHA256SUMS").read_text().splitlines()[0] + "\n"
    )  # the root alone: no kernel
    with pytest.raises(Invalid):
        store.publish("display", folder)
    assert not (store.root / "display" / "imaging-display_2.root.raw").exists()


def test_the_signature_is_checked_against_the_key(key: SigningKey, tmp_path: Path) -> None:
    store = UpdateStore(tmp_path / "updates", key)
    store.publish("display", update_folder(tmp_path / "src", "display", "2"))
    sums = store.folder("display") / "SHA256SUMS"
    other = SigningKey.beside(tmp_path / "other")
    init_key(other, "")
    assert verify(other.public, sums) == "bad"
    assert verify(tmp_path / "none.gpg", sums) == "no_key"
    sums.write_text(sums.read_text() + f"{'0' * 64}  imaging-display_9.efi\n")
    assert verify(key.public, sums) == "bad"
    (store.folder("display") / "SHA256SUMS.gpg").unlink()
    assert verify(key.public, sums) == "missing"


def test_the_cli_makes_the_key_once_publishes_lists_and_removes(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    data = ["--data-dir", str(tmp_path / "var")]
    assert cli.main(["updates", "init-key", *data]) == 0
    assert cli.main(["updates", "init-key", *data]) == 2  # boxes trust it: not replaced
    assert "exists" in capsys.readouterr().err
    folder = update_folder(tmp_path / "src", "display", "20261208.1")
    assert cli.main(["updates", "publish", "display", str(folder), *data]) == 0
    assert cli.main(["updates", "export-key", str(tmp_path / "key.gpg"), *data]) == 0
    assert cli.main(["updates", "list", *data]) == 0
    out = capsys.readouterr().out
    assert "display\tsignature good" in out and "20261208.1\t330000 bytes" in out
    sums = tmp_path / "var/updates/display/SHA256SUMS"
    assert verify(tmp_path / "key.gpg", sums) == "good"
    assert (tmp_path / "var/tls/update-signing.key").stat().st_mode & 0o077 == 0
    assert cli.main(["updates", "remove", "display", "20261208.1", *data]) == 0
    assert parse_sums(sums.read_text()) == {}
    assert cli.main(["updates", "remove", "display", "20261208.1", *data]) == 2
