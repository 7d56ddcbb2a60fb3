"""The installed OHIF bundle's files, and the headers every ``/viewer`` answer carries.

The page asks for cross-origin isolation (COOP + COEP) so that Cornerstone may use
SharedArrayBuffer (browsers grant it over HTTPS and on localhost), and its
Content-Security-Policy lets it talk to this server only.
"""

from __future__ import annotations

import re
from pathlib import Path

from fastapi import Request
from fastapi.responses import FileResponse, Response

from core_server.settings import Settings
from core_server.web.viewer.bundle import OHIF_VERSION, default_root, installed

# Cornerstone uses SharedArrayBuffer when the page is cross-origin isolated. The CSP keeps
# the viewer from reaching any other server (fonts, analytics, CDNs) and from being framed by
# another site; 'unsafe-eval' and 'wasm-unsafe-eval' are for the codecs' WebAssembly and
# libraries that compile functions, 'unsafe-inline' for index.html's inline bootstrap.
SECURITY_HEADERS = {
    "Cross-Origin-Opener-Policy": "same-origin",
    "Cross-Origin-Embedder-Policy": "require-corp",
    "Cross-Origin-Resource-Policy": "same-origin",
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "same-origin",
    "Content-Security-Policy": "; ".join(
        (
            "default-src 'self'",
            "script-src 'self' 'unsafe-inline' 'unsafe-eval' 'wasm-unsafe-eval' blob:",
            "worker-src 'self' blob:",
            "style-src 'self' 'unsafe-inline'",
            "img-src 'self' data: blob:",
            "font-src 'self' data:",
            "connect-src 'self' data: blob:",
            "media-src 'self' data: blob:",
            "object-src 'none'",
            "base-uri 'self'",
            "form-action 'self'",
            "frame-ancestors 'self'",
        )
    ),
}
# Webpack names its chunks and WebAssembly by content hash: those never change.
_HASHED = re.compile(r"(^|[./])[0-9a-f]{16}\.(js|wasm)$")
MEDIA_TYPES = {
    ".js": "text/javascript; charset=utf-8",
    ".mjs": "text/javascript; charset=utf-8",
    ".css": "text/css; charset=utf-8",
    ".html": "text/html; charset=utf-8",
    ".json": "application/json",
    ".jsonc": "application/json",
    ".wasm": "application/wasm",
    ".svg": "image/svg+xml",
    ".png": "image/png",
    ".ico": "image/x-icon",
    ".woff2": "font/woff2",
    ".xml": "application/xml",
}
# A missing file of these kinds is a 404, not the app's index page (which as a script or
# stylesheet would fail in a confusing way).
_ASSET_SUFFIXES = frozenset(MEDIA_TYPES) - {".html"} | {".map", ".gz", ".txt", ".jpg", ".onnx"}


def bundle_dir(settings: Settings) -> Path:
    return settings.viewer_dir or default_root() / OHIF_VERSION


class BundleFiles:
    """The installed OHIF files. Until they are installed every look-up checks again, so
    installing them needs no restart."""

    def __init__(self, directory: Path) -> None:
        self.directory = directory.resolve()
        self._ready = installed(self.directory)

    @property
    def ready(self) -> bool:
        self._ready = self._ready or installed(self.directory)
        return self._ready

    def file(self, path: str) -> Path | None:
        """The bundle's file at ``path``, if there is one (never outside the bundle, never a
        hidden file such as the install stamp)."""
        if not path or any(part.startswith(".") for part in path.split("/")) or not self.ready:
            return None
        candidate = (self.directory / path).resolve()
        if candidate.is_relative_to(self.directory) and candidate.is_file():
            return candidate
        return None

    def index_html(self) -> str:
        return (self.directory / "index.html").read_text(encoding="utf-8")


def is_asset_name(path: str) -> bool:
    """Names a file rather than a route of the app (hidden files included)."""
    name = path.rsplit("/", 1)[-1]
    return name.startswith(".") or Path(name).suffix.lower() in _ASSET_SUFFIXES


def file_response(request: Request, path: Path) -> Response:
    """A bundle file, its precompressed ``.gz`` sibling when the browser takes gzip."""
    media_type = MEDIA_TYPES.get(path.suffix.lower())
    cache = "max-age=31536000, immutable" if _HASHED.search(path.name) else "no-cache"
    compressed = path.with_name(path.name + ".gz")
    if "gzip" in request.headers.get("accept-encoding", "") and compressed.is_file():
        response = FileResponse(
            compressed,
            media_type=media_type,
            headers={"Content-Encoding": "gzip", "Vary": "Accept-Encoding"},
        )
    else:
        response = FileResponse(path, media_type=media_type, headers={"Vary": "Accept-Encoding"})
    return finish(response, cache=cache)


def script_response(text: str) -> Response:
    """A script the core generates (configuration, session guard): revalidated each time."""
    return finish(Response(text, media_type=MEDIA_TYPES[".js"]), cache="no-cache")


def not_found() -> Response:
    return finish(Response("not found", status_code=404, media_type="text/plain"))


def finish(response: Response, cache: str = "no-store") -> Response:
    """Security headers on every viewer response; ``private``: they are behind sign-in."""
    response.headers.update(SECURITY_HEADERS)
    response.headers["Cache-Control"] = f"private, {cache}"
    return response
