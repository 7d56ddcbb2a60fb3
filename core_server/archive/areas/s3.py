"""An S3-compatible object store (MinIO, Ceph RGW, a cloud) as a storage area, via boto3.

Put: objects up to :data:`SINGLE_PUT_LIMIT` go in one ``PutObject`` carrying their SHA-256,
which the server checks before it accepts them; bigger ones go through boto3's multipart
``upload_file``. Check: a ``HeadObject`` with checksum mode gives the SHA-256 the server
holds for single-part objects (no data read); a multipart object (its checksum is composite)
is read back with ``GetObject`` and hashed.
"""

from __future__ import annotations

import base64
import hashlib
from pathlib import Path
from typing import Any

from core_server.archive.areas import AreaError, AreaSpec

SINGLE_PUT_LIMIT = 64 << 20


def _b64(sha256_hex: str) -> str:
    return base64.b64encode(bytes.fromhex(sha256_hex)).decode()


class S3Area:
    kind = "s3"

    def __init__(self, spec: AreaSpec) -> None:
        import boto3
        from botocore.config import Config

        self.name = spec.name
        self.rank = spec.rank
        self.bucket = spec.location
        self.prefix = spec.prefix.strip("/")
        self.client: Any = boto3.session.Session().client(
            "s3",
            endpoint_url=spec.endpoint_url or None,
            region_name=spec.region or "us-east-1",
            aws_access_key_id=spec.access_key or None,
            aws_secret_access_key=spec.secret_key or None,
            config=Config(
                retries={"max_attempts": 4, "mode": "standard"},
                max_pool_connections=32,
                connect_timeout=10,
                read_timeout=60,
                s3={"addressing_style": "path"},
                request_checksum_calculation="when_required",
                response_checksum_validation="when_required",
            ),
        )

    def _key(self, key: str) -> str:
        return f"{self.prefix}/{key}" if self.prefix else key

    def put(self, key: str, source: Path, sha256: str) -> str:
        from botocore.exceptions import BotoCoreError, ClientError

        try:
            if source.stat().st_size <= SINGLE_PUT_LIMIT:
                with source.open("rb") as body:
                    self.client.put_object(
                        Bucket=self.bucket,
                        Key=self._key(key),
                        Body=body,
                        ChecksumAlgorithm="SHA256",  # the store keeps it for HEAD
                        ChecksumSHA256=_b64(sha256),  # ours: checked by the store on receipt
                        Metadata={"sha256": sha256},
                    )
            else:
                self.client.upload_file(
                    str(source),
                    self.bucket,
                    self._key(key),
                    ExtraArgs={"Metadata": {"sha256": sha256}},
                )
        except (BotoCoreError, ClientError) as e:
            raise AreaError(f"area {self.name}: put {key}: {e}") from e
        return key

    def get(self, key: str, target: Path) -> None:
        from botocore.exceptions import BotoCoreError, ClientError

        try:
            self.client.download_file(self.bucket, self._key(key), str(target))
        except (BotoCoreError, ClientError) as e:
            raise AreaError(f"area {self.name}: get {key}: {e}") from e

    def delete(self, key: str) -> None:
        from botocore.exceptions import BotoCoreError, ClientError

        try:
            self.client.delete_object(Bucket=self.bucket, Key=self._key(key))
        except (BotoCoreError, ClientError) as e:
            raise AreaError(f"area {self.name}: delete {key}: {e}") from e

    def _head(self, key: str) -> dict[str, Any] | None:
        from botocore.exceptions import BotoCoreError, ClientError

        try:
            head: dict[str, Any] = self.client.head_object(
                Bucket=self.bucket, Key=self._key(key), ChecksumMode="ENABLED"
            )
            return head
        except ClientError as e:
            if e.response.get("Error", {}).get("Code") in ("404", "NoSuchKey", "NotFound"):
                return None
            raise AreaError(f"area {self.name}: head {key}: {e}") from e
        except BotoCoreError as e:
            raise AreaError(f"area {self.name}: head {key}: {e}") from e

    def exists(self, key: str) -> bool:
        return self._head(key) is not None

    def check(self, key: str, size: int, sha256: str) -> bool:
        head = self._head(key)
        if head is None or int(head.get("ContentLength", -1)) != size:
            return False
        held = head.get("ChecksumSHA256") or ""
        if held and "-" not in held:
            return bool(held == _b64(sha256))
        return self._read_back(key) == sha256  # multipart: composite checksum, read it

    def _read_back(self, key: str) -> str:
        from botocore.exceptions import BotoCoreError, ClientError

        digest = hashlib.sha256()
        try:
            body = self.client.get_object(Bucket=self.bucket, Key=self._key(key))["Body"]
            for chunk in body.iter_chunks(1 << 20):
                digest.update(chunk)
        except (BotoCoreError, ClientError) as e:
            raise AreaError(f"area {self.name}: read {key}: {e}") from e
        return digest.hexdigest()
