"""Fixtures of the tiers tests: a real S3-compatible server (moto's, on a free port, one per
module), a fresh bucket per test, an archive on each database with a few small objects."""

from __future__ import annotations

import itertools
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import boto3
import pytest
from moto.server import ThreadedMotoServer
from pydicom.uid import generate_uid

from core_server import db
from core_server.archive import Archive, Origin
from core_server.archive.areas import AreaSpec
from tests.conftest import free_port
from tests.dicom_data import encode, make_ct

_buckets = itertools.count(1)


@dataclass
class S3:
    endpoint: str
    access_key: str = "tiers-test"
    secret_key: str = "tiers-secret"

    def client(self) -> Any:
        return boto3.client(
            "s3",
            endpoint_url=self.endpoint,
            region_name="us-east-1",
            aws_access_key_id=self.access_key,
            aws_secret_access_key=self.secret_key,
        )

    def new_bucket(self) -> str:
        name = f"tiers-{next(_buckets)}-{generate_uid()[-8:]}"
        self.client().create_bucket(Bucket=name)
        return name

    def spec(self, bucket: str, name: str = "s3", rank: int = 20) -> AreaSpec:
        return AreaSpec(
            name,
            "s3",
            bucket,
            rank=rank,
            endpoint_url=self.endpoint,
            access_key=self.access_key,
            secret_key=self.secret_key,
            region="us-east-1",
            prefix="archive",
        )


@pytest.fixture(scope="module")
def s3_server() -> Iterator[S3]:
    port = free_port()
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=port, verbose=False)
    server.start()
    try:
        yield S3(f"http://127.0.0.1:{port}")
    finally:
        server.stop()


@dataclass
class Stored:
    archive: Archive
    study: str
    objects: dict[str, bytes]  # SOP Instance UID -> the file's bytes as stored
    events: list[dict[str, Any]] = field(default_factory=list)

    @property
    def engine(self) -> Any:
        return self.archive.engine

    def online_path(self, sop_uid: str) -> Path:
        (answer,) = self.archive.find("IMAGE", {"SOPInstanceUID": sop_uid})
        return self.archive.storage.absolute(answer["_path"])


def store_study(archive: Archive, count: int, size: int = 16) -> tuple[str, dict[str, bytes]]:
    study, series = generate_uid(), generate_uid()
    objects = {}
    for n in range(count):
        ds = make_ct(study_uid=study, series_uid=series, instance_number=n + 1, size=size)
        stored = archive.store_instance(encode(ds), Origin("test", "TIERS"))
        objects[stored.sop_instance_uid] = b""
    for uid in objects:
        (answer,) = archive.find("IMAGE", {"SOPInstanceUID": uid})
        objects[uid] = archive.storage.absolute(answer["_path"]).read_bytes()
    return study, objects


@pytest.fixture
def stored(database_url: str, tmp_path: Path) -> Iterator[Stored]:
    """An archive on each database with one study of three small CT images."""
    engine = db.make_engine(database_url)
    db.migrate(engine)
    archive = Archive(engine, tmp_path / "online")
    study, objects = store_study(archive, 3)
    found = Stored(archive, study, objects)
    archive.bus.subscribe("archive.recall", lambda _topic, payload: found.events.append(payload))
    try:
        yield found
    finally:
        engine.dispose()
