"""Installing the OHIF bundle: the checksum gate, and the re-basing from / to /viewer/ on a
small build laid out like OHIF's (the real one is checked in test_viewer.py)."""

from __future__ import annotations

import base64
import gzip
import hashlib
import io
import json
import tarfile
from pathlib import Path

import pytest

from core_server.web.viewer import bundle as viewer_bundle
from core_server.web.viewer.bundle import OHIF_VERSION, BundleError, installed, main

INDEX = (
    '<!doctype html><html><head><script>window.PUBLIC_URL="/"</script>'
    '<link rel="manifest" href="/manifest.json"><script src="/app-config.js"></script>'
    '<script defer src="/app.bundle.0123456789abcdef.js"></script>'
    '<link href="/app.bundle.css" rel="stylesheet"></head><body></body></html>'
)
APP = (
    '__webpack_require__.p = "/";\n'
    "const viewer = () => import('/dicom-microscopy-viewer/dicomMicroscopyViewer.min.js');\n"
    "const long = '" + "x" * 4096 + "';\n"
)
FILES = {
    "index.html": INDEX,
    "app.bundle.0123456789abcdef.js": APP,
    "compute.bundle.fedcba9876543210.js": '__webpack_require__.p = "/";\n',
    "app.bundle.css": "@font-face{src:url(/a34f9d1faa5f3315.woff2)}",
    "manifest.json": json.dumps({"start_url": "/", "icons": [{"src": "/assets/icon.png"}]}),
    "assets/browserconfig.xml": '<tile><square70x70logo src="/assets/mstile.png"/></tile>',
    "app-config.js": "window.config = {qidoRoot: 'https://demo.example/dicomweb'};",
    "sw.js": "importScripts('https://storage.googleapis.com/workbox.js');",
    "app.bundle.0123456789abcdef.js.map": "{}",
}


def _tarball(folder: Path, files: dict[str, str]) -> Path:
    path = folder / "ohif-app.tgz"
    with tarfile.open(path, "w:gz") as archive:
        for name, text in files.items():
            data = text.encode()
            member = tarfile.TarInfo(f"package/dist/{name}")
            member.size = len(data)
            archive.addfile(member, io.BytesIO(data))
    return path


def _trust(monkeypatch: pytest.MonkeyPatch, tarball: Path) -> None:
    """Pin this test tarball's checksum in place of the real package's."""
    digest = base64.b64encode(hashlib.sha512(tarball.read_bytes()).digest()).decode()
    monkeypatch.setattr(viewer_bundle, "OHIF_INTEGRITY", f"sha512-{digest}")


def test_a_tarball_with_another_checksum_is_refused(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    tarball = _tarball(tmp_path, FILES)
    assert main(["--root", str(tmp_path / "ohif"), "--tarball", str(tarball)]) == 1
    assert "is not @ohif/app@3.13.2" in capsys.readouterr().err
    assert not (tmp_path / "ohif" / OHIF_VERSION).exists()


def test_the_build_is_rebased_under_viewer(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    tarball = _tarball(tmp_path, FILES)
    _trust(monkeypatch, tarball)
    target = viewer_bundle.install(tmp_path / "ohif", tarball)
    assert target == tmp_path / "ohif" / OHIF_VERSION and installed(target)

    index = (target / "index.html").read_text()
    assert 'window.PUBLIC_URL="/viewer/"' in index
    assert 'href="/viewer/manifest.json"' in index and 'src="/viewer/app-config.js"' in index
    app = (target / "app.bundle.0123456789abcdef.js").read_text()
    assert '__webpack_require__.p = "/viewer/";' in app
    assert "import('/viewer/dicom-microscopy-viewer/" in app
    assert "/viewer/" in (target / "compute.bundle.fedcba9876543210.js").read_text()
    assert "url(/viewer/a34f9d1faa5f3315.woff2)" in (target / "app.bundle.css").read_text()
    manifest = json.loads((target / "manifest.json").read_text())
    assert manifest == {"start_url": "/viewer/", "icons": [{"src": "/viewer/assets/icon.png"}]}
    tile = (target / "assets" / "browserconfig.xml").read_text()
    assert tile == '<tile><square70x70logo src="/viewer/assets/mstile.png"/></tile>'
    # Not installed: the demo configuration, the CDN-loading service worker, source maps.
    for dropped in ("app-config.js", "sw.js", "app.bundle.0123456789abcdef.js.map"):
        assert not (target / dropped).exists(), dropped
    # Large text files get a gzip sibling with the same (patched) content.
    packed = target / "app.bundle.0123456789abcdef.js.gz"
    assert gzip.decompress(packed.read_bytes()).decode() == app
    assert not (target / "compute.bundle.fedcba9876543210.js.gz").exists()  # too small to bother

    stamp = json.loads((target / ".installed.json").read_text())
    assert stamp["patched"]["app.bundle.0123456789abcdef.js"] == 2
    assert viewer_bundle.install(tmp_path / "ohif", tarball) == target  # a second run: no-op


def test_an_unexpected_build_is_not_half_installed(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Without webpack's public path where it is expected, the build would load its chunks
    from / and fail in the browser: installation stops instead."""
    files = {**FILES, "app.bundle.0123456789abcdef.js": "__webpack_require__.p = './';"}
    tarball = _tarball(tmp_path, files)
    _trust(monkeypatch, tarball)
    with pytest.raises(BundleError, match="not re-based"):
        viewer_bundle.install(tmp_path / "ohif", tarball)
    assert not (tmp_path / "ohif" / OHIF_VERSION).exists()
    assert [p.name for p in (tmp_path / "ohif").iterdir()] == []  # no scratch left behind
