"""STOW-RS (PS3.18 10.5): objects sent over HTTP go through the archive's one ingest path.

The multipart body is streamed part by part into files in the storage area's incoming folder
(never held whole in memory), and each part is stored with ``Archive.store_file`` (origin
channel ``stow``), which makes it durable and commits its index rows before this answers.
A part that cannot be stored is reported in FailedSOPSequence with its reason and does not
stop the others: 200 when every object was stored, 202 when some were, 409 when none was.
"""

from __future__ import annotations

import logging
import shutil
from pathlib import Path
from typing import Annotated, Any

from fastapi import APIRouter, Depends, HTTPException, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import Response
from pydicom import dcmread

from core_server import auth
from core_server.archive import InvalidObject, Origin
from core_server.dicomweb.access import archive_of, audit, may_send_images
from core_server.dicomweb.dicom_json import attribute, dumps
from core_server.dicomweb.multipart import MultipartError, PartWriter, request_boundary

log = logging.getLogger(__name__)
router = APIRouter()
Sender = Annotated[auth.User, Depends(may_send_images)]

# Failure reasons (PS3.18 Table 10.5.3-1, PS3.4 Annex C / GG).
PROCESSING_FAILURE = 0x0110
SOP_CLASS_NOT_SUPPORTED = 0x0122
STUDY_MISMATCH = 0xA900  # the data set does not belong where it was sent
CANNOT_UNDERSTAND = 0xC000
_ACCEPTED_PARTS = ("application/dicom", "")


class _Outcome:
    def __init__(self) -> None:
        self.stored: list[dict[str, Any]] = []
        self.failed: list[dict[str, Any]] = []
        self.reasons: list[str] = []
        self.studies: set[str] = set()

    def fail(self, sop_class: str, sop_instance: str, reason: int, why: str) -> None:
        self.failed.append(
            {
                "00081150": attribute("UI", sop_class),
                "00081155": attribute("UI", sop_instance),
                "00081197": attribute("US", reason),
            }
        )
        self.reasons.append(f"{sop_instance or 'part'}: {why}")


@router.post("/studies", summary="STOW-RS: store instances")
async def store(request: Request, user: Sender) -> Response:
    return await _store(request, user, None)


@router.post("/studies/{study}", summary="STOW-RS: store instances of one study")
async def store_in_study(request: Request, study: str, user: Sender) -> Response:
    return await _store(request, user, study)


async def _store(request: Request, user: auth.User, study: str | None) -> Response:
    try:
        boundary, part_type = request_boundary(request.headers.get("content-type", ""))
    except MultipartError as exc:
        raise HTTPException(415, str(exc)) from None
    if part_type not in _ACCEPTED_PARTS:
        raise HTTPException(
            415, f"only application/dicom parts are accepted, not {part_type} / 仅接受 DICOM 文件"
        )
    archive = archive_of(request)
    writer = PartWriter(boundary, archive.storage.new_incoming)
    try:
        async for chunk in request.stream():
            writer.write(chunk)
        parts = writer.finish()
    except MultipartError as exc:
        _remove(p for _, p in writer.parts)
        raise HTTPException(400, str(exc)) from None
    except BaseException:
        writer.close()
        _remove(p for _, p in writer.parts)
        raise
    if not parts:
        raise HTTPException(400, "the request holds no objects / 请求中没有 DICOM 对象")
    host = request.client.host if request.client else ""
    origin = Origin("stow", remote=f"{user.username}@{host}")
    outcome = _Outcome()
    root = str(request.base_url).rstrip("/") + "/dicom-web/"
    try:
        for kind, path in parts:
            await run_in_threadpool(_store_part, archive, kind, path, study, origin, outcome, root)
    finally:
        _remove(p for _, p in parts)  # whatever was not moved into the storage area
    if outcome.studies:
        await run_in_threadpool(
            audit, request, user, "dicomweb.stored", outcome.studies, instances=len(outcome.stored)
        )
    body: dict[str, Any] = {}
    if study or len(outcome.studies) == 1:
        body["00081190"] = attribute("UR", f"{root}studies/{study or next(iter(outcome.studies))}")
    if outcome.failed:
        body["00081198"] = {"vr": "SQ", "Value": outcome.failed}
    if outcome.stored:
        body["00081199"] = {"vr": "SQ", "Value": outcome.stored}
    status = 200 if not outcome.failed else 202 if outcome.stored else 409
    headers = {}
    if outcome.reasons:
        # Header values are Latin-1: anything else (a Chinese file name in an error) escaped.
        text = "; ".join(outcome.reasons)[:2000].replace('"', "'")
        text = text.encode("ascii", "backslashreplace").decode("ascii")
        headers["Warning"] = f'299 {request.url.netloc} "{text}"'
    return Response(
        dumps(body), status_code=status, media_type="application/dicom+json", headers=headers
    )


def _store_part(
    archive: Any,
    kind: str,
    path: Path,
    study: str | None,
    origin: Origin,
    outcome: _Outcome,
    root: str,
) -> None:
    sop_class = sop_instance = ""
    try:
        _add_preamble(path)
        ds = dcmread(
            path, stop_before_pixels=True, specific_tags=[0x00080016, 0x00080018, 0x0020000D]
        )
        sop_class = str(ds.get("SOPClassUID", "") or "")
        sop_instance = str(ds.get("SOPInstanceUID", "") or "")
        part_study = str(ds.get("StudyInstanceUID", "") or "")
    except Exception as exc:
        outcome.fail("", "", CANNOT_UNDERSTAND, f"not a DICOM object: {exc}")
        return
    if kind not in _ACCEPTED_PARTS:
        outcome.fail(sop_class, sop_instance, SOP_CLASS_NOT_SUPPORTED, f"part type {kind}")
        return
    if study and part_study != study:
        outcome.fail(
            sop_class,
            sop_instance,
            STUDY_MISMATCH,
            f"belongs to study {part_study or '(none)'}, not {study}",
        )
        return
    try:
        stored = archive.store_file(path, origin)
    except InvalidObject as exc:
        outcome.fail(sop_class, sop_instance, CANNOT_UNDERSTAND, str(exc))
        return
    except Exception as exc:
        log.exception("STOW-RS: cannot store %s", sop_instance or path)
        outcome.fail(sop_class, sop_instance, PROCESSING_FAILURE, f"cannot be stored: {exc}")
        return
    outcome.studies.add(stored.study_instance_uid)
    outcome.stored.append(
        {
            "00081150": attribute("UI", stored.sop_class_uid),
            "00081155": attribute("UI", stored.sop_instance_uid),
            "00081190": attribute(
                "UR",
                f"{root}studies/{stored.study_instance_uid}/series/"
                f"{stored.series_instance_uid}/instances/{stored.sop_instance_uid}",
            ),
        }
    )


def _add_preamble(path: Path) -> None:
    """Some clients (dicomweb-client among them) send the file meta information without the
    128-byte preamble and ``DICM``; the archive stores Part 10 files, so they are added."""
    with path.open("rb") as f:
        head = f.read(132)
    if head[128:132] == b"DICM" or not head.startswith(b"\x02\x00"):
        return
    complete = path.with_suffix(".p10")
    with path.open("rb") as source, complete.open("wb") as target:
        target.write(b"\x00" * 128 + b"DICM")
        shutil.copyfileobj(source, target, 1 << 20)
    complete.replace(path)


def _remove(paths: Any) -> None:
    for path in paths:
        Path(path).unlink(missing_ok=True)
