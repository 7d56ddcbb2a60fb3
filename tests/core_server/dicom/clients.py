"""Clients for the DICOM protocol tests: dcmtk tools and pynetdicom associations."""

from __future__ import annotations

import os
import socket
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from pynetdicom import AE, evt

from tests.conftest import RunningCore


def dcmtk(*args: str, check: bool = True, timeout: float = 30) -> subprocess.CompletedProcess[str]:
    """Run one dcmtk tool (TCP_NODELAY set, as modalities should)."""
    result = subprocess.run(
        [str(a) for a in args],
        capture_output=True,
        text=True,
        timeout=timeout,
        env={**os.environ, "TCP_NODELAY": "1"},
    )
    if check and result.returncode != 0:
        raise AssertionError(
            f"{args[0]} failed ({result.returncode}):\n{result.stdout}\n{result.stderr}"
        )
    return result


def peer(core: RunningCore) -> list[str]:
    """The called AE title, host and port of the core, as dcmtk tools take them."""
    return ["-aec", core.ae_title, "127.0.0.1", str(core.dicom_port)]


def keys(**values: str) -> list[str]:
    """dcmtk ``-k`` arguments; an empty value asks for the attribute (return key)."""
    args: list[str] = []
    for keyword, value in values.items():
        args += ["-k", f"{keyword}={value}" if value else keyword]
    return args


def getscu(
    core: RunningCore, folder: Path, *options: str, model: str = "-S", **identifier: str
) -> list[Path]:
    """C-GET into ``folder`` (created); the files received."""
    folder.mkdir(parents=True, exist_ok=True)
    before = set(folder.iterdir())
    dcmtk("getscu", model, "+B", *options, "-od", folder, *keys(**identifier), *peer(core))
    return sorted(set(folder.iterdir()) - before)


def nodelay(event: evt.Event) -> None:
    sock = event.assoc.dul.socket.socket if event.assoc.dul.socket else None
    if sock is not None:
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)


def client_ae(ae_title: str = "PYSCU") -> AE:
    ae = AE(ae_title=ae_title)
    ae.acse_timeout = ae.dimse_timeout = ae.network_timeout = 10
    return ae


def associate(ae: AE, core: RunningCore, **kwargs: Any) -> Any:
    handlers = [(evt.EVT_CONN_OPEN, nodelay), *kwargs.pop("evt_handlers", [])]
    assoc = ae.associate(
        "127.0.0.1", core.dicom_port, ae_title=core.ae_title, evt_handlers=handlers, **kwargs
    )
    assert assoc.is_established, "association with the core was not accepted"
    return assoc


def stored_syntax(core: RunningCore, sop_instance_uid: str) -> str:
    (answer,) = core.core.archive.find("IMAGE", {"SOPInstanceUID": sop_instance_uid})
    return str(answer["_transfer_syntax_uid"])


PATHS = ["direct", "pynetdicom"]  # the two paths that serve associations (dicom_direct_path)


def core_on_path(path: str, folder: Path) -> Iterator[RunningCore]:
    """A running core whose storage/query/retrieve associations take ``path``."""
    running = RunningCore(folder / "data", dicom_direct_path=path == "direct").start()
    try:
        yield running
    finally:
        running.stop()
