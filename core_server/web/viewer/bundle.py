"""Installs the prebuilt OHIF viewer (npm ``@ohif/app``) for serving under ``/viewer``.

Run once by ``make run`` / ``make test`` (``python scripts/fetch_ohif.py``); a stamp
file makes later runs return at once. The package is fetched with ``npm pack`` (so a site's
npm proxy or mirror settings apply; a direct download when npm is absent) or taken from a
tarball copied onto an offline appliance, checked against the pinned SHA-512, unpacked without
its source maps, and re-based from ``/`` to ``/viewer/``: the published build hard-codes ``/``
as its public path.
"""

from __future__ import annotations

import argparse
import base64
import gzip
import hashlib
import json
import os
import re
import shutil
import subprocess
import sys
import tarfile
import tempfile
import urllib.request
from pathlib import Path, PurePosixPath

OHIF_PACKAGE = "@ohif/app"
OHIF_VERSION = "3.13.2"
# dist.integrity of @ohif/app@3.13.2 on registry.npmjs.org; a mirror must serve the same bytes.
OHIF_INTEGRITY = (
    "sha512-"
    "WZdxmpmG7rqFgW9ZJLcbgr3XCtLi1KDNPoMaeY5PPe6j4G4fjEjjkycZM6C6Zk2F87BKxFfpq+jd5xXZB9E8EA=="
)
PREFIX = "/viewer/"
STAMP = ".installed.json"

# Upstream files we do not serve: the demo configuration (it points at a public cloud server;
# ours is generated per request), the service worker and its Google CDN loader, the Google
# Healthcare sample configuration, and Netlify deployment files.
DROPPED = {"app-config.js", "sw.js", "google.js", "_headers", "_redirects", "serve.json"}
COMPRESSED_SUFFIXES = {".js", ".mjs", ".css", ".wasm", ".json", ".jsonc", ".html", ".svg", ".xml"}

# Absolute "/" paths compiled into the scripts: webpack's public path (chunks, workers, images)
# and the microscopy viewer's dynamic import. Each must be found where listed, else the
# re-basing is incomplete (a different build) and installation stops.
_SCRIPT_PATCHES = (
    ('__webpack_require__.p = "/";', f'__webpack_require__.p = "{PREFIX}";'),
    ("'/dicom-microscopy-viewer/", f"'{PREFIX}dicom-microscopy-viewer/"),
)
_REQUIRED_PATCHES = {"app.bundle.": 0, "compute.bundle.": 0}  # file-name prefix -> patch index
# Small text files whose quoted absolute paths all point into the bundle (index.html's links
# and window.PUBLIC_URL, the web manifest's icons and start_url, browserconfig.xml).
_REBASED_TEXT = ("index.html", "manifest.json", "assets/*.json", "assets/*.xml")
_QUOTED_ROOT = re.compile(r"""(["'])/(?!/)([^"'<>\s]*)\1""")
# Stylesheets name their fonts (and images) as url(/...).
_CSS_ROOT = re.compile(r"""url\((["']?)/(?!/)""")


class BundleError(RuntimeError):
    """The viewer could not be installed; the message says why and what to do."""


def default_root() -> Path:
    """Where bundles live unless configured: beside the Python environment the core runs in."""
    return Path(sys.prefix) / "share" / "ohif"


def installed(directory: Path) -> bool:
    """True when ``directory`` holds a complete, re-based install of the pinned version."""
    try:
        stamp = json.loads((directory / STAMP).read_text())
    except (OSError, ValueError):
        return False
    return bool(stamp.get("version") == OHIF_VERSION and stamp.get("prefix") == PREFIX)


def install(root: Path, tarball: Path | None = None) -> Path:
    """Installs the pinned OHIF into ``root/<version>`` (if not there yet) and returns that path."""
    target = root / OHIF_VERSION
    if installed(target):
        return target
    root.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=root, prefix=".fetch-") as scratch:
        work = Path(scratch)
        package = tarball if tarball is not None else _fetch(work)
        _verify(package)
        unpacked = work / "dist"
        _unpack(package, unpacked)
        patched = _rebase(unpacked)
        compressed = _precompress(unpacked)
        stamp = {
            "package": OHIF_PACKAGE,
            "version": OHIF_VERSION,
            "integrity": OHIF_INTEGRITY,
            "prefix": PREFIX,
            "patched": patched,
            "precompressed": compressed,
        }
        (unpacked / STAMP).write_text(json.dumps(stamp, indent=2))
        if target.exists():  # an interrupted or older install of this version
            shutil.rmtree(target)
        unpacked.rename(target)
    return target


def _fetch(work: Path) -> Path:
    """``npm pack`` when npm is installed (it applies the site's registry, proxy and CA
    settings); otherwise a plain download of the same tarball from the registry."""
    if shutil.which("npm"):
        return _npm_pack(work)
    registry = os.environ.get("NPM_CONFIG_REGISTRY", "https://registry.npmjs.org").rstrip("/")
    url = f"{registry}/{OHIF_PACKAGE}/-/{OHIF_PACKAGE.split('/')[1]}-{OHIF_VERSION}.tgz"
    target = work / f"ohif-app-{OHIF_VERSION}.tgz"
    try:
        with urllib.request.urlopen(url, timeout=60) as answer, target.open("wb") as out:
            shutil.copyfileobj(answer, out, 1 << 20)
    except OSError as exc:
        raise BundleError(
            f"cannot download {url} ({exc}); on an offline appliance copy the file here and "
            "pass --tarball FILE"
        ) from None
    return target


def _npm_pack(work: Path) -> Path:
    spec = f"{OHIF_PACKAGE}@{OHIF_VERSION}"
    done = subprocess.run(
        ["npm", "pack", "--silent", "--json", spec],
        cwd=work,
        capture_output=True,
        text=True,
        check=False,
    )
    if done.returncode != 0:
        raise BundleError(f"npm pack {spec} failed: {done.stderr.strip() or done.stdout.strip()}")
    return work / json.loads(done.stdout)[0]["filename"]


def _verify(package: Path) -> None:
    algorithm, _, expected = OHIF_INTEGRITY.partition("-")
    digest = hashlib.new(algorithm)
    with package.open("rb") as stream:
        while block := stream.read(1 << 20):
            digest.update(block)
    actual = base64.b64encode(digest.digest()).decode()
    if actual != expected:
        raise BundleError(
            f"{package} is not {OHIF_PACKAGE}@{OHIF_VERSION}: its SHA-512 is {actual}, "
            f"the pinned one {expected}"
        )


def _unpack(package: Path, into: Path) -> None:
    """Extracts ``package/dist`` without source maps; tarfile's "data" filter refuses links
    and paths that would leave ``into``."""
    with tarfile.open(package, "r:gz") as archive:
        members = []
        for member in archive.getmembers():
            path = PurePosixPath(member.name)
            if path.parts[:2] != ("package", "dist") or len(path.parts) < 3:
                continue
            if path.suffix == ".map" or (len(path.parts) == 3 and path.name in DROPPED):
                continue
            member.name = str(PurePosixPath(*path.parts[2:]))
            members.append(member)
        if not any(m.name == "index.html" for m in members):
            raise BundleError(f"{package} has no package/dist/index.html: not a built OHIF app")
        archive.extractall(into, members=members, filter="data")


def _rebase(dist: Path) -> dict[str, int]:
    """Moves every absolute path of the build under PREFIX; returns replacements per file."""
    patched: dict[str, int] = {}
    for script in sorted(dist.rglob("*.js")):
        text = script.read_text(encoding="utf-8")
        count = 0
        for old, new in _SCRIPT_PATCHES:
            count += text.count(old)
            text = text.replace(old, new)
        if count:
            script.write_text(text, encoding="utf-8")
            patched[script.relative_to(dist).as_posix()] = count
    for prefix, index in _REQUIRED_PATCHES.items():
        old = _SCRIPT_PATCHES[index][0]
        if not any(name.startswith(prefix) for name in patched):
            raise BundleError(f"no {old!r} in {prefix}*.js: unexpected OHIF build, not re-based")
    for pattern in _REBASED_TEXT:
        for page in sorted(dist.glob(pattern)):
            text, count = _QUOTED_ROOT.subn(rf"\1{PREFIX}\2\1", page.read_text(encoding="utf-8"))
            page.write_text(text, encoding="utf-8")
            patched[page.relative_to(dist).as_posix()] = count
    for sheet in sorted(dist.rglob("*.css")):
        text, count = _CSS_ROOT.subn(rf"url(\1{PREFIX}", sheet.read_text(encoding="utf-8"))
        if count:
            sheet.write_text(text, encoding="utf-8")
            patched[sheet.relative_to(dist).as_posix()] = count
    if not patched.get("index.html"):
        raise BundleError("index.html has no absolute paths: unexpected OHIF build")
    return patched


def _precompress(dist: Path) -> int:
    """Writes ``name.gz`` beside each compressible file: the main bundle is 17 MB, 4 MB gzipped,
    and a hospital's older PCs and Wi-Fi feel the difference on every first load."""
    count = 0
    for path in sorted(dist.rglob("*")):
        if path.is_file() and path.suffix in COMPRESSED_SUFFIXES and path.stat().st_size > 1024:
            path.with_name(path.name + ".gz").write_bytes(
                gzip.compress(path.read_bytes(), compresslevel=6, mtime=0)
            )
            count += 1
    return count


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="scripts/fetch_ohif.py",
        description=f"Install the OHIF viewer ({OHIF_PACKAGE}@{OHIF_VERSION}) served at /viewer.",
    )
    parser.add_argument(
        "--root",
        type=Path,
        default=default_root(),
        help="folder that holds <version>/ (default: %(default)s; the core's --viewer-dir "
        "names the <version> folder itself)",
    )
    parser.add_argument(
        "--tarball",
        type=Path,
        help=f"install from this {OHIF_PACKAGE}-{OHIF_VERSION}.tgz instead of running npm pack",
    )
    args = parser.parse_args(argv)
    target = args.root / OHIF_VERSION
    if installed(target):
        print(f"OHIF {OHIF_VERSION} already installed in {target}")
        return 0
    print(f"installing OHIF {OHIF_VERSION} into {target} ...", flush=True)
    try:
        install(args.root, args.tarball)
    except BundleError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    print(f"OHIF {OHIF_VERSION} installed in {target}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
