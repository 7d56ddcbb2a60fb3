"""File hand-over to robots and folders: everything another program watches is written under a
temporary name and renamed into place (a rename within one file system is atomic), so a robot
never picks up half a job file or half an ISO; and the robots' key=value / INI files read back
whatever encoding they were written in."""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterable
from pathlib import Path

# A suffix no watcher looks for (TD Bridge takes *.JDF, PTBurn *.JRQ).
TEMPORARY = ".part"


def write_atomically(path: Path, data: bytes) -> None:
    """``data`` into ``path`` via ``path.part`` + fsync + rename."""
    path.parent.mkdir(parents=True, exist_ok=True)
    partial = path.with_name(path.name + TEMPORARY)
    with open(partial, "wb") as out:
        out.write(data)
        out.flush()
        os.fsync(out.fileno())
    os.replace(partial, path)


def copy_atomically(source: Path, path: Path) -> None:
    """Copy ``source`` to ``path`` under a temporary name, then rename (large ISOs included)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    partial = path.with_name(path.name + TEMPORARY)
    with open(source, "rb") as src, open(partial, "wb") as out:
        shutil.copyfileobj(src, out, 1024 * 1024)
        out.flush()
        os.fsync(out.fileno())
    os.replace(partial, path)


def key_values(lines: Iterable[tuple[str, str]], encoding: str, newline: str = "\r\n") -> bytes:
    """``KEY=value`` lines as the Windows robot software reads them (CRLF, its code page).
    A value may not break the line it is on."""
    text = "".join(f"{k}={' '.join(v.splitlines())}{newline}" for k, v in lines)
    return text.encode(encoding)


def decode(data: bytes) -> str:
    """Text a Windows program wrote: UTF-8 (with or without BOM), else the Chinese ANSI code
    page (GB18030 is a superset of GBK/CP936)."""
    if data.startswith(b"\xef\xbb\xbf"):
        return data[3:].decode("utf-8", "replace")
    if data.startswith((b"\xff\xfe", b"\xfe\xff")):
        return data.decode("utf-16", "replace")
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError:
        return data.decode("gb18030", "replace")


def read_ini(path: Path) -> dict[str, dict[str, str]]:
    """An INI-like status file: ``[SECTION]`` headers and ``KEY=value`` lines (keys upper-cased;
    lines before any section go under ""). Missing file: {}. Lenient on purpose: a status file
    the robot is rewriting right now may be cut short."""
    try:
        text = decode(path.read_bytes())
    except FileNotFoundError:
        return {}
    sections: dict[str, dict[str, str]] = {"": {}}
    current = sections[""]
    for raw in text.splitlines():
        line = raw.strip()
        if not line or line.startswith((";", "#")):
            continue
        if line.startswith("[") and line.endswith("]"):
            current = sections.setdefault(line[1:-1].strip().upper(), {})
            continue
        key, sep, value = line.partition("=")
        if sep:
            current[key.strip().upper()] = value.strip()
    return sections
