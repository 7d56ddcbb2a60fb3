"""What every DICOMweb answer shares: the service's root URL, ``Warning: 299`` headers, and data
sets in the representation the client accepted (DICOM JSON, or PS3.19 XML one part each)."""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from typing import Any

from fastapi import HTTPException, Request
from fastapi.responses import Response

from core_server.dicomweb.dicom_json import dumps
from core_server.dicomweb.multipart import Part, body, content_type, new_boundary
from core_server.dicomweb.negotiation import (
    DICOM_JSON,
    DICOM_XML,
    NotAcceptable,
    dataset_media,
    parse_accept,
)
from core_server.dicomweb.xml_model import native_xml


def service_root(request: Request) -> str:
    """The DICOMweb root as this request reached it (what the client itself can follow)."""
    return str(request.base_url).rstrip("/") + "/dicom-web/"


def public_root(request: Request) -> str:
    """The DICOMweb root under ``Settings.public_url`` when it is set (``--public-url``): URLs
    that others keep and follow later (a STOW's RetrieveURL goes into a RIS), never taken from
    the request's Host header, which the client chooses. Else :func:`service_root`."""
    public = str(getattr(request.app.state.ctx.settings, "public_url", "") or "").rstrip("/")
    return f"{public}/dicom-web/" if public else service_root(request)


def warning_header(request: Request, warnings: Iterable[str]) -> dict[str, str]:
    """``Warning: 299 <host> "<text>"`` (PS3.18 8.4.2) for each warning; header values are
    Latin-1, so anything else (a Chinese name in a reason) is escaped."""
    texts = [w.replace('"', "'") for w in warnings]
    if not texts:
        return {}
    host = request.url.netloc
    value = ", ".join(f'299 {host} "{text}"' for text in texts)[:4000]
    return {"Warning": value.encode("ascii", "backslashreplace").decode("ascii")}


def accepted_media(request: Request, *, multipart_xml: bool = True) -> str:
    """:data:`DICOM_JSON` or :data:`DICOM_XML` per the Accept header, else 406."""
    try:
        return dataset_media(
            parse_accept(request.headers.get("accept")), multipart_xml=multipart_xml
        )
    except NotAcceptable as exc:
        raise HTTPException(406, str(exc)) from None


def datasets(
    media: str,
    items: Sequence[dict[str, Any]] | None = None,
    texts: Sequence[str] | None = None,
    headers: dict[str, str] | None = None,
    *,
    empty_status: int = 200,
) -> Response:
    """Data sets, given as JSON objects (``items``) or as already encoded JSON (``texts``), in
    ``media``: one JSON array, or a multipart/related body of one XML document per data set.
    None at all is ``empty_status`` (a search's 204 has no body)."""
    if not (texts or items) and empty_status == 204:
        return Response(status_code=204, headers=headers)
    if media == DICOM_JSON:
        text = "[" + ",".join(texts) + "]" if texts is not None else dumps(list(items or []))
        return Response(text.encode(), media_type=DICOM_JSON, headers=headers)
    objects = [json.loads(t) for t in texts] if texts is not None else list(items or [])
    boundary = new_boundary()
    parts = [Part(DICOM_XML, data=native_xml(o)) for o in objects]
    return Response(
        b"".join(body(parts, boundary)),
        media_type=content_type(DICOM_XML, boundary),
        headers=headers,
    )


def dataset(media: str, item: dict[str, Any], status: int, headers: dict[str, str]) -> Response:
    """One data set (the STOW response) as ``application/dicom+json`` or ``+xml``."""
    if media == DICOM_XML:
        return Response(native_xml(item), status, headers, media_type=DICOM_XML)
    return Response(dumps(item).encode(), status, headers, media_type=DICOM_JSON)
