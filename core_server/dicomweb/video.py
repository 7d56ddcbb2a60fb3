"""Video objects (MPEG-2, MPEG-4 AVC/H.264, HEVC/H.265 transfer syntaxes) for the web: the
rendered resource of such an instance is its video stream (PS3.18 8.3.5.1: ``video/mp4`` /
``video/mpeg`` for multi-frame), given whole or by byte range, as a ``<video>`` element asks.
OHIF's dicom-video extension points its ``<video>`` at ``.../instances/{uid}/rendered``."""

from __future__ import annotations

import re

from fastapi import HTTPException, Request
from fastapi.responses import Response
from pydicom import dcmread
from pydicom.encaps import generate_frames

from core_server.archive import InstanceFile

_MPEG2 = ("1.2.840.10008.1.2.4.100", "1.2.840.10008.1.2.4.101")
_MP4 = tuple(f"1.2.840.10008.1.2.4.{n}" for n in range(102, 109))  # H.264 .102-.106, HEVC
# The fragmentable variants (".1") carry the same stream over several fragments.
MEDIA_TYPES = {
    **{uid: "video/mpeg" for uid in _MPEG2},
    **{uid: "video/mp4" for uid in _MP4},
    **{f"{uid}.1": "video/mpeg" for uid in _MPEG2},
    **{f"{uid}.1": "video/mp4" for uid in _MP4},
}
_RANGE = re.compile(r"^bytes=(\d*)-(\d*)$")


def is_video(transfer_syntax_uid: str) -> bool:
    return str(transfer_syntax_uid) in MEDIA_TYPES


def stream_bytes(f: InstanceFile) -> bytes:
    """The video stream: the Pixel Data fragments joined (one, for the non-fragmentable
    syntaxes)."""
    ds = dcmread(f.path)
    if "PixelData" not in ds:
        raise HTTPException(404, "the object has no video stream")
    # The whole stream is one frame, whatever the number of fragments it is cut into.
    return next(generate_frames(ds.PixelData, number_of_frames=1))


def video_response(request: Request, f: InstanceFile) -> Response:
    """The stream with its media type, honouring one ``Range: bytes=a-b`` (206), as browsers
    ask for video."""
    media = MEDIA_TYPES[str(f.transfer_syntax_uid)]
    accept = request.headers.get("accept", "*/*")
    if not any(t in accept for t in (media, "video/*", "*/*")):
        raise HTTPException(406, f"this instance is a video: rendered as {media}")
    data = stream_bytes(f)
    headers = {"Accept-Ranges": "bytes", "Cache-Control": "private, max-age=3600"}
    asked = request.headers.get("range", "").strip()
    match = _RANGE.match(asked) if asked else None
    if match is None or not (match.group(1) or match.group(2)):
        return Response(data, media_type=media, headers=headers)
    size = len(data)
    first, last = match.groups()
    if first:
        start, end = int(first), min(int(last) if last else size - 1, size - 1)
    else:  # the last N bytes
        start, end = max(size - int(last), 0), size - 1
    if start >= size or start > end:
        return Response(status_code=416, headers={**headers, "Content-Range": f"bytes */{size}"})
    headers["Content-Range"] = f"bytes {start}-{end}/{size}"
    return Response(data[start : end + 1], status_code=206, media_type=media, headers=headers)
