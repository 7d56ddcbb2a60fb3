"""Storage areas besides the online one (docs/storage-tiers.md).

An :class:`Area` holds copies of objects under a key: ``put`` is durable when it returns and
gives back the key it stored under (an offline area prefixes its set's label), ``get`` writes
the object to a local file, ``check`` says whether the stored object still has the size and
SHA-256 recorded. Kinds: ``filesystem`` (a second local or NAS folder), ``s3`` (an
S3-compatible object store through boto3), ``offline`` (sets exported to a folder and taken
away; reading one needs the set mounted again, else :class:`OfflineSet`). The built-in
online area (``core_server.archive.storage.StorageArea``) is named :data:`ONLINE`.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Protocol, runtime_checkable

from core_server.refusals import Conflict

ONLINE = "online"
KINDS = ("filesystem", "s3", "offline")


@runtime_checkable
class Area(Protocol):
    name: str
    kind: str
    rank: int

    def put(self, key: str, source: Path, sha256: str) -> str:
        """Store ``source`` under ``key``, durably; the key it is stored under."""
        ...

    def get(self, key: str, target: Path) -> None:
        """Write the object to ``target`` (the caller fsyncs and renames it)."""
        ...

    def delete(self, key: str) -> None: ...

    def exists(self, key: str) -> bool: ...

    def check(self, key: str, size: int, sha256: str) -> bool:
        """Whether the stored object has this size and checksum (how: per kind)."""
        ...


class AreaError(Exception):
    """An area could not do what was asked (unreachable, refused, wrong contents)."""


class OfflineSet(Conflict):
    """The object is on an offline set that is not mounted: the operator inserts it."""

    def __init__(self, area: str, labels: list[str]) -> None:
        super().__init__(
            "storage.tiers.offline_set", area=area, label=", ".join(labels), labels=labels
        )


@dataclass
class AreaSpec:
    """An area as the admin configures it (a row of ``archive_areas``)."""

    name: str
    kind: str
    location: str
    rank: int = 10
    endpoint_url: str = ""
    region: str = ""
    access_key: str = ""
    secret_key: str = field(default="", repr=False)
    prefix: str = ""
    label: str = ""
    enabled: bool = True
    created_at: datetime | None = None
    updated_at: datetime | None = None

    def public(self) -> dict[str, object]:
        """What GET answers: everything but the secret (whether one is set instead)."""
        return {
            "name": self.name,
            "kind": self.kind,
            "location": self.location,
            "rank": self.rank,
            "endpoint_url": self.endpoint_url,
            "region": self.region,
            "access_key": self.access_key,
            "has_secret": bool(self.secret_key),
            "prefix": self.prefix,
            "label": self.label,
            "enabled": self.enabled,
        }


def build(spec: AreaSpec) -> Area:
    """The working area of a configured one."""
    if spec.kind == "filesystem":
        from core_server.archive.areas.filesystem import FilesystemArea

        return FilesystemArea(spec.name, Path(spec.location), spec.rank)
    if spec.kind == "s3":
        from core_server.archive.areas.s3 import S3Area

        return S3Area(spec)
    if spec.kind == "offline":
        from core_server.archive.areas.offline import OfflineArea

        return OfflineArea(spec.name, Path(spec.location), spec.label or "SET-0001", spec.rank)
    raise AreaError(f"unknown area kind {spec.kind!r}")


__all__ = ["KINDS", "ONLINE", "Area", "AreaError", "AreaSpec", "OfflineSet", "build"]
