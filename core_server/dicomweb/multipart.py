"""multipart/related bodies (RFC 2387) as DICOMweb sends and receives them."""

from __future__ import annotations

import secrets
from collections.abc import Callable, Iterable, Iterator
from contextlib import suppress
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO

from python_multipart.multipart import MultipartParser, parse_options_header

from core_server.dicomweb.negotiation import split_outside_quotes

CHUNK = 1 << 20


@dataclass(frozen=True)
class Part:
    """One body part: bytes in memory, or a file to stream from disk."""

    content_type: str
    data: bytes | None = None
    path: Path | None = None
    location: str = ""


def new_boundary() -> str:
    return "DICOMweb-" + secrets.token_hex(16)


def content_type(part_type: str, boundary: str, transfer_syntax: str | None = None) -> str:
    value = f'multipart/related; type="{part_type}"; boundary={boundary}'
    if transfer_syntax:
        value += f"; transfer-syntax={transfer_syntax}"
    return value


def body(parts: Iterable[Part | Callable[[], Part]], boundary: str) -> Iterator[bytes]:
    """The encoded body, a part at a time: files are read in 1 MB chunks, and a part given as
    a function is only made when its turn comes (so a large study is never held in memory)."""
    delimiter = f"--{boundary}\r\n".encode()
    first = True
    for item in parts:
        part = item() if callable(item) else item
        size = len(part.data) if part.data is not None else _size(part.path)
        head = f"Content-Type: {part.content_type}\r\nContent-Length: {size}\r\n"
        if part.location:
            head += f"Content-Location: {part.location}\r\n"
        yield (b"" if first else b"\r\n") + delimiter + head.encode() + b"\r\n"
        first = False
        if part.data is not None:
            yield part.data
        elif part.path is not None:
            with part.path.open("rb") as f:
                while chunk := f.read(CHUNK):
                    yield chunk
    yield (b"" if first else b"\r\n") + f"--{boundary}--\r\n".encode()


def _size(path: Path | None) -> int:
    return path.stat().st_size if path is not None else 0


MAX_BOUNDARY = 70  # characters (RFC 2046 5.1.1)


class MultipartError(ValueError):
    """The request body is not a multipart/related message this server can read (400)."""


class NotMultipart(MultipartError):
    """The request is not multipart/related at all (415)."""


def request_boundary(header: str) -> tuple[str, str]:
    """(boundary, type) of a multipart/related Content-Type header. A boundary must be 1-70
    printable ASCII characters, not ending in a space (RFC 2046 5.1.1)."""
    media, params = parse_options_header(header)
    if media.decode("latin-1").lower() != "multipart/related":
        raise NotMultipart(
            f"expected multipart/related, got {media.decode('latin-1') or 'nothing'}"
        )
    boundary = params.get(b"boundary", b"").decode("latin-1")
    if not boundary:
        raise NotMultipart("the multipart/related Content-Type has no boundary")
    if len(boundary) > MAX_BOUNDARY:
        raise MultipartError(
            f"the multipart boundary has {len(boundary)} characters; RFC 2046 allows at most "
            f"{MAX_BOUNDARY}"
        )
    if not all(" " <= c <= "~" for c in boundary) or boundary.endswith(" "):
        raise MultipartError(
            "the multipart boundary must be printable ASCII not ending in a space (RFC 2046)"
        )
    return boundary, params.get(b"type", b"").decode("latin-1").lower()


class PartWriter:
    """Feeds a multipart/related body to python-multipart's streaming parser and writes each
    part to its own file (so a large STOW is never held in memory)."""

    def __init__(self, boundary: str, new_file: Callable[[], Path]) -> None:
        self.parts: list[tuple[str, Path]] = []  # (content type, file)
        self._new_file = new_file
        self._file: BinaryIO | None = None
        self._header_name = b""
        self._header_value = b""
        self._headers: dict[str, str] = {}
        self._ended = False
        self._parser = MultipartParser(
            boundary,
            callbacks={
                "on_part_begin": self._begin,
                "on_part_data": self._data,
                "on_part_end": self._end,
                "on_header_field": self._field,
                "on_header_value": self._value,
                "on_header_end": self._header_end,
                "on_headers_finished": self._headers_finished,
                "on_end": self._body_end,
            },
        )

    def write(self, chunk: bytes) -> None:
        try:
            self._parser.write(chunk)
        except OSError:
            with suppress(OSError):
                self.close()
            raise  # a part's file could not be written (a full disk): not the body's fault
        except Exception as exc:
            self.close()
            raise MultipartError(f"malformed multipart body: {exc}") from exc

    def finish(self) -> list[tuple[str, Path]]:
        """The parts, once the whole body was read. A body without its closing delimiter was
        cut short (a client or a proxy gave up): none of it is taken."""
        try:
            self._parser.finalize()
        except Exception as exc:
            raise MultipartError(f"malformed multipart body: {exc}") from exc
        finally:
            self.close()
        if not self._ended and self.parts:
            raise MultipartError(
                "the multipart body ends before its closing boundary: it was cut short"
            )
        return self.parts

    def close(self) -> None:
        file, self._file = self._file, None
        if file is not None:
            file.close()  # closed even when its last flush fails (a full disk)

    def _begin(self) -> None:
        self._headers = {}
        self._header_name = self._header_value = b""

    def _field(self, data: bytes, start: int, end: int) -> None:
        self._header_name += data[start:end]

    def _value(self, data: bytes, start: int, end: int) -> None:
        self._header_value += data[start:end]

    def _header_end(self) -> None:
        name = self._header_name.decode("latin-1").strip().lower()
        self._headers[name] = self._header_value.decode("latin-1").strip()
        self._header_name = self._header_value = b""

    def _headers_finished(self) -> None:
        path = self._new_file()
        self._file = path.open("wb")
        media = split_outside_quotes(self._headers.get("content-type", ""), ";")
        self.parts.append((media[0].lower() if media else "", path))

    def _data(self, data: bytes, start: int, end: int) -> None:
        if self._file is not None:
            self._file.write(data[start:end])

    def _end(self) -> None:
        self.close()

    def _body_end(self) -> None:
        self._ended = True
