"""The store of published updates: ``<data>/updates/<role>/``, the folder a box's updater reads
(``imaging-<role>_<v>.root.raw``, ``imaging-<role>_<v>.efi``, ``SHA256SUMS`` over every version
kept, ``SHA256SUMS.gpg``). Publishing copies a version's two files in (checked against their
folder's SHA256SUMS, fsynced, renamed), rewrites SHA256SUMS and signs it again; removing does
the same without the version. Only files SHA256SUMS names (and the two lists) are served.
"""

from __future__ import annotations

import hashlib
import os
import re
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from core_server.refusals import Conflict, Invalid, NotFound
from core_server.updates import signing

SUMS = "SHA256SUMS"
CHUNK = 1 << 20
ROLE = re.compile(r"^[a-z][a-z0-9-]{0,31}$")
ARTEFACT = re.compile(
    r"^imaging-(?P<role>[a-z][a-z0-9-]*)_(?P<version>[A-Za-z0-9.~+-]+)\.(?P<kind>root\.raw|efi)$"
)
KINDS = ("root.raw", "efi")


@dataclass(frozen=True)
class Artefact:
    name: str
    sha256: str
    size: int


@dataclass(frozen=True)
class Version:
    version: str
    files: tuple[Artefact, ...]
    published_at: datetime

    @property
    def size(self) -> int:
        return sum(f.size for f in self.files)


@dataclass(frozen=True)
class Role:
    role: str
    versions: tuple[Version, ...]
    signature: signing.Verdict


def parse_sums(text: str) -> dict[str, str]:
    """``sha256sum`` output: name -> digest (binary-mode ``*name`` taken too)."""
    found = {}
    for line in text.splitlines():
        fields = line.split()
        if len(fields) == 2 and re.fullmatch(r"[0-9a-fA-F]{64}", fields[0]):
            found[fields[1].lstrip("*")] = fields[0].lower()
    return found


def version_key(version: str) -> tuple[tuple[int, int | str], ...]:
    """As the updater orders them: numbers as numbers (….99 < ….100), then text."""
    parts = re.findall(r"\d+|[A-Za-z]+", version)
    return tuple((0, int(p)) if p.isdigit() else (1, p) for p in parts)


def _copy_checked(source: Path, target: Path, expected: str) -> None:
    digest = hashlib.sha256()
    part = target.with_name(target.name + ".part")
    with source.open("rb") as inp, part.open("wb") as out:
        while chunk := inp.read(CHUNK):
            digest.update(chunk)
            out.write(chunk)
        out.flush()
        os.fsync(out.fileno())
    if digest.hexdigest() != expected:
        part.unlink()
        raise Invalid("updates.checksum", name=source.name)
    part.replace(target)


class UpdateStore:
    def __init__(self, root: Path, key: signing.SigningKey) -> None:
        self.root = root
        self.key = key

    def folder(self, role: str) -> Path:
        if not ROLE.match(role):
            raise Invalid("updates.bad_role", role=role)
        return self.root / role

    def sums(self, role: str) -> dict[str, str]:
        path = self.folder(role) / SUMS
        return parse_sums(path.read_text()) if path.is_file() else {}

    def served(self, role: str, name: str) -> Path | None:
        """The file to send a box for ``/updates/<role>/<name>``, or None."""
        if not ROLE.match(role):
            return None
        folder = self.root / role
        if name in (SUMS, signing.SIGNATURE) or name in self.sums(role):
            path = folder / name
            return path if path.is_file() else None
        return None

    def publish(self, role: str, source: Path) -> list[str]:
        """Copy the versions in ``source`` (a folder with SHA256SUMS) into the store and sign
        the role's SHA256SUMS. Returns the versions published."""
        wanted = self._offered(role, source)
        folder = self.folder(role)
        folder.mkdir(parents=True, exist_ok=True)
        kept = self.sums(role)
        for name, digest in wanted.items():
            if name in kept and kept[name] != digest:
                raise Conflict("updates.version_differs", name=name)
        copied: list[Path] = []
        try:
            for name, digest in wanted.items():
                if kept.get(name) != digest or not (folder / name).is_file():
                    _copy_checked(source / name, folder / name, digest)
                    copied.append(folder / name)
        except Exception:
            for path in copied:  # a half-published version leaves nothing behind
                path.unlink(missing_ok=True)
            raise
        self._write_sums(role, {**kept, **wanted})
        return sorted({_version(n) for n in wanted}, key=version_key)

    def _offered(self, role: str, source: Path) -> dict[str, str]:
        sums_file = source / SUMS
        if not sums_file.is_file():
            raise NotFound("updates.no_sums", folder=str(source))
        listed = parse_sums(sums_file.read_text())
        wanted: dict[str, str] = {}
        for name, digest in listed.items():
            match = ARTEFACT.match(name)
            if match and match["role"] == role:
                if not (source / name).is_file():
                    raise NotFound("updates.file_missing", name=name)
                wanted[name] = digest
        versions: dict[str, set[str]] = {}
        for name in wanted:
            match = ARTEFACT.match(name)
            assert match
            versions.setdefault(match["version"], set()).add(match["kind"])
        incomplete = sorted(v for v, kinds in versions.items() if len(kinds) != len(KINDS))
        if not versions or incomplete:
            raise Invalid("updates.incomplete", role=role, versions=", ".join(incomplete))
        return wanted

    def remove(self, role: str, version: str) -> None:
        kept = self.sums(role)
        names = [n for n in kept if _version(n) == version]
        if not names:
            raise NotFound("updates.no_version", role=role, version=version)
        # SHA256SUMS first: from then on no box is offered the files being removed.
        self._write_sums(role, {n: d for n, d in kept.items() if n not in names})
        for name in names:
            (self.folder(role) / name).unlink(missing_ok=True)

    def _write_sums(self, role: str, sums: dict[str, str]) -> None:
        path = self.folder(role) / SUMS
        part = path.with_name(SUMS + ".part")
        text = "".join(f"{sums[n]}  {n}\n" for n in sorted(sums))
        with part.open("w") as out:
            out.write(text)
            out.flush()
            os.fsync(out.fileno())
        part.replace(path)
        signing.sign(self.key, path)

    def roles(self) -> list[Role]:
        if not self.root.is_dir():
            return []
        found = []
        for folder in sorted(p for p in self.root.iterdir() if p.is_dir() and ROLE.match(p.name)):
            found.append(self._role(folder.name))
        return found

    def _role(self, role: str) -> Role:
        folder = self.folder(role)
        by_version: dict[str, list[Artefact]] = {}
        for name, digest in self.sums(role).items():
            path = folder / name
            size = path.stat().st_size if path.is_file() else 0
            by_version.setdefault(_version(name), []).append(Artefact(name, digest, size))
        versions = []
        for version in sorted(by_version, key=version_key, reverse=True):
            files = tuple(sorted(by_version[version], key=lambda a: a.name))
            stamps = [
                (folder / a.name).stat().st_mtime for a in files if (folder / a.name).is_file()
            ]
            published = datetime.fromtimestamp(max(stamps, default=0), UTC)
            versions.append(Version(version, files, published))
        sums = folder / SUMS
        verdict = signing.verify(self.key.public, sums) if sums.is_file() else "missing"
        return Role(role, tuple(versions), verdict)


def _version(name: str) -> str:
    match = ARTEFACT.match(name)
    return match["version"] if match else name
