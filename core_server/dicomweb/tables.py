"""The DICOMweb metadata cache: each instance's DICOM JSON, so that a series' metadata (OHIF
asks for it before showing a series) is read from one table instead of hundreds of files.

A row is valid only while its ``stamp`` (file path, size and modification time) matches the
stored file; a replaced or corrected object gets a new stamp and is encoded again. The JSON is
zlib-compressed (a CT header is about 1-2 kB so, under 1 % of its image).
"""

from __future__ import annotations

from sqlalchemy import Column, LargeBinary, String, Table

from core_server.db import Key, metadata

instance_metadata = Table(
    "dicomweb_instance_metadata",
    metadata,
    Column("sop_instance_uid", Key(64), primary_key=True),
    Column("stamp", String(300), nullable=False),
    Column("json", LargeBinary, nullable=False, comment="zlib-compressed DICOM JSON"),
)
