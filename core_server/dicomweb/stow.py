"""STOW-RS (PS3.18 10.5): objects sent over HTTP go through the archive's one ingest path.

The multipart body is streamed part by part into files in the storage area's incoming folder
(``Archive.new_incoming``, the archive's one agreement for arriving objects; never held whole
in memory), and each part is stored with ``Archive.store_file`` (origin
channel ``stow``), which makes it durable and commits its index rows before this answers.
A part that cannot be stored is reported in FailedSOPSequence with its reason and does not
stop the others: 200 when every object was stored, 202 when some were, 409 when none was, 503
when none was because the server is out of resources (a full disk: reason 0xA700). The answer
is DICOM JSON, or the PS3.19 XML model when ``application/dicom+xml`` is accepted.
"""

from __future__ import annotations

import logging
import shutil
from contextlib import suppress
from pathlib import Path
from typing import Annotated, Any

from fastapi import APIRouter, Depends, HTTPException, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import Response
from pydicom import dcmread

from core_server import auth
from core_server.archive import Archive, InvalidObject, Origin
from core_server.dicomweb.access import archive_of, audit, may_send_images
from core_server.dicomweb.dicom_json import attribute
from core_server.dicomweb.multipart import (
    MultipartError,
    NotMultipart,
    PartWriter,
    request_boundary,
)
from core_server.dicomweb.replies import accepted_media, dataset, public_root, warning_header
from core_server.dicomweb.resources import RETRY_AFTER, out_of_resources
from core_server.refusals import Refusal

log = logging.getLogger(__name__)
router = APIRouter()
Sender = Annotated[auth.User, Depends(may_send_images)]

# Failure reasons (PS3.18 Table 10.5.3-1, PS3.4 Annex C / GG).
PROCESSING_FAILURE = 0x0110
SOP_CLASS_NOT_SUPPORTED = 0x0122
OUT_OF_RESOURCES = 0xA700  # refused: out of resources (a full disk)
STUDY_MISMATCH = 0xA900  # the data set does not belong where it was sent
UID_CONFLICT = 0xC409  # another object is stored under this SOP Instance UID (as C-STORE says)
CANNOT_UNDERSTAND = 0xC000
_ACCEPTED_PARTS = ("application/dicom", "")


class _Outcome:
    def __init__(self, root: str) -> None:
        self.root = root  # of the RetrieveURLs
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

    @property
    def out_of_resources(self) -> bool:
        """Nothing stored, and only for want of resources: the client should try again later."""
        reasons = {item["00081197"]["Value"][0] for item in self.failed}
        return not self.stored and reasons == {OUT_OF_RESOURCES}

    @property
    def status(self) -> int:
        if not self.failed:
            return 200
        if self.stored:
            return 202
        return 503 if self.out_of_resources else 409


@router.post("/studies", summary="STOW-RS: store instances")
async def store(request: Request, user: Sender) -> Response:
    return await _store(request, user, None)


@router.post("/studies/{study}", summary="STOW-RS: store instances of one study")
async def store_in_study(request: Request, study: str, user: Sender) -> Response:
    return await _store(request, user, study)


async def _store(request: Request, user: auth.User, study: str | None) -> Response:
    media = accepted_media(request, multipart_xml=False)  # a 406 before the body is read
    boundary = _boundary(request)
    archive = archive_of(request)
    outcome = _Outcome(public_root(request))
    try:
        parts = await _receive(request, archive, boundary)
    except OSError as exc:
        if not out_of_resources(exc):
            raise
        log.warning("STOW-RS: cannot receive the request's objects: %s", exc)
        outcome.fail("", "", OUT_OF_RESOURCES, f"out of resources, the disk is full ({exc})")
        return _reply(request, media, outcome, study)
    host = request.client.host if request.client else ""
    origin = Origin("stow", remote=f"{user.username}@{host}")
    try:
        for kind, path in parts:
            await run_in_threadpool(_store_part, archive, kind, path, study, origin, outcome)
    finally:
        archive.discard_incoming(p for _, p in parts)  # what was not moved into the storage area
    if outcome.studies:
        await run_in_threadpool(
            audit, request, user, "dicomweb.stored", outcome.studies, instances=len(outcome.stored)
        )
    return _reply(request, media, outcome, study)


def _boundary(request: Request) -> str:
    try:
        boundary, part_type = request_boundary(request.headers.get("content-type", ""))
    except NotMultipart as exc:
        raise HTTPException(415, str(exc)) from None
    except MultipartError as exc:
        raise HTTPException(400, str(exc)) from None
    if part_type not in _ACCEPTED_PARTS:
        raise HTTPException(
            415, f"only application/dicom parts are accepted (PS3.18 10.5), not {part_type}"
        )
    return boundary


async def _receive(request: Request, archive: Archive, boundary: str) -> list[tuple[str, Path]]:
    """The body's parts, each written to its own incoming file: (media type, file)."""
    writer = PartWriter(boundary, archive.new_incoming)
    try:
        async for chunk in request.stream():
            writer.write(chunk)
        parts = writer.finish()
    except MultipartError as exc:
        archive.discard_incoming(p for _, p in writer.parts)
        raise HTTPException(400, str(exc)) from None
    except BaseException:
        with suppress(OSError):  # closing flushes, which fails again on a full disk
            writer.close()
        archive.discard_incoming(p for _, p in writer.parts)
        raise
    if not parts:
        raise HTTPException(400, "the request holds no objects")
    return parts


def _reply(request: Request, media: str, outcome: _Outcome, study: str | None) -> Response:
    body: dict[str, Any] = {}
    if study or len(outcome.studies) == 1:
        the_study = study or next(iter(outcome.studies))
        body["00081190"] = attribute("UR", f"{outcome.root}studies/{the_study}")
    if outcome.failed:
        body["00081198"] = {"vr": "SQ", "Value": outcome.failed}
    if outcome.stored:
        body["00081199"] = {"vr": "SQ", "Value": outcome.stored}
    headers = warning_header(
        request, ["; ".join(outcome.reasons)[:2000]] if outcome.reasons else []
    )
    if outcome.status == 503:
        headers["Retry-After"] = str(RETRY_AFTER)
    return dataset(media, body, outcome.status, headers)


def _store_part(
    archive: Any,
    kind: str,
    path: Path,
    study: str | None,
    origin: Origin,
    outcome: _Outcome,
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
        if out_of_resources(exc):  # adding the preamble needs room too
            outcome.fail("", "", OUT_OF_RESOURCES, f"out of resources: {exc}")
        else:
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
    except Refusal as exc:  # the archive's rule said no (another object under this UID)
        outcome.fail(sop_class, sop_instance, UID_CONFLICT, exc.text("en"))
        return
    except Exception as exc:
        _fail_for_want_of_resources(exc, outcome, sop_class, sop_instance)
        return
    outcome.studies.add(stored.study_instance_uid)
    outcome.stored.append(
        {
            "00081150": attribute("UI", stored.sop_class_uid),
            "00081155": attribute("UI", stored.sop_instance_uid),
            "00081190": attribute(
                "UR",
                f"{outcome.root}studies/{stored.study_instance_uid}/series/"
                f"{stored.series_instance_uid}/instances/{stored.sop_instance_uid}",
            ),
        }
    )


def _fail_for_want_of_resources(
    exc: Exception, outcome: _Outcome, sop_class: str, sop_instance: str
) -> None:
    """A part that could not be stored: 0xA700 when the server is out of resources (a full
    disk, a full database), else a processing failure (0x0110, logged with its trace)."""
    if out_of_resources(exc):
        log.warning("STOW-RS: out of resources storing %s: %s", sop_instance or "a part", exc)
        outcome.fail(sop_class, sop_instance, OUT_OF_RESOURCES, f"out of resources: {exc}")
        return
    log.exception("STOW-RS: cannot store %s", sop_instance or "a part")
    outcome.fail(sop_class, sop_instance, PROCESSING_FAILURE, f"cannot be stored: {exc}")


def _add_preamble(path: Path) -> None:
    """Some clients (dicomweb-client among them) send the file meta information without the
    128-byte preamble and ``DICM``; the archive stores Part 10 files, so they are added."""
    with path.open("rb") as f:
        head = f.read(132)
    if head[128:132] == b"DICM" or not head.startswith(b"\x02\x00"):
        return
    complete = path.with_suffix(".p10")
    try:
        with path.open("rb") as source, complete.open("wb") as target:
            target.write(b"\x00" * 128 + b"DICM")
            shutil.copyfileobj(source, target, 1 << 20)
        complete.replace(path)
    finally:
        complete.unlink(missing_ok=True)
