"""STOW-RS on a full disk: a clear failure the sender can act on (0xA700 "out of resources"
for each object, 503 with Retry-After when nothing could be stored), never a 500, and nothing
half-stored. The storage area is a small tmpfs (the test needs root to mount it, as CI has)."""

from __future__ import annotations

import os
import subprocess
from collections.abc import Iterator
from contextlib import suppress
from pathlib import Path

import httpx
import pytest
import requests
from pydicom import Dataset
from pydicom.uid import generate_uid

from tests.conftest import RunningCore
from tests.dicom_data import encode, make_ct

OUT_OF_RESOURCES = 0xA700


@pytest.fixture
def small_disk(tmp_path: Path) -> Iterator[tuple[RunningCore, Path]]:
    """A running core whose storage area is a 4 MB tmpfs."""
    storage = tmp_path / "data" / "storage"
    storage.mkdir(parents=True)
    mounted = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", "size=4m", "tmpfs", str(storage)],
        capture_output=True,
        text=True,
        check=False,
    )
    if mounted.returncode:
        pytest.skip(f"a small tmpfs cannot be mounted here: {mounted.stderr.strip()}")
    try:
        core = RunningCore(tmp_path / "data").start()
        try:
            yield core, storage
        finally:
            core.stop()
    finally:
        subprocess.run(["umount", "-l", str(storage)], check=False)


def _fill(storage: Path) -> Path:
    """Write a file until the disk is full, to the last byte."""
    filler = storage / "filler"
    fd = os.open(filler, os.O_WRONLY | os.O_CREAT)
    try:
        for size in (65536, 4096, 1):
            with suppress(OSError):
                while True:
                    os.write(fd, b"\0" * size)
    finally:
        os.close(fd)
    return filler


def _limit_files(storage: Path, more: int) -> None:
    """Let the tmpfs hold only ``more`` new files or folders (a full disk of inodes)."""
    stat = os.statvfs(storage)
    used = stat.f_files - stat.f_ffree
    subprocess.run(["mount", "-o", f"remount,nr_inodes={used + more}", str(storage)], check=True)


def _stow(core: RunningCore, objects: list[Dataset]) -> httpx.Response:
    boundary = "full-disk"
    body = (
        b"".join(
            f"--{boundary}\r\nContent-Type: application/dicom\r\n\r\n".encode()
            + encode(ds)
            + b"\r\n"
            for ds in objects
        )
        + f"--{boundary}--\r\n".encode()
    )
    kind = f'multipart/related; type="application/dicom"; boundary={boundary}'
    with core.api() as http:
        return http.post("/dicom-web/studies", content=body, headers={"Content-Type": kind})


def _reasons(answer: httpx.Response) -> dict[str, int]:
    failed = answer.json().get("00081198", {}).get("Value", [])
    return {
        (item["00081155"].get("Value") or [""])[0]: item["00081197"]["Value"][0] for item in failed
    }


def test_stow_on_a_full_disk(small_disk: tuple[RunningCore, Path]) -> None:
    core, storage = small_disk
    study = generate_uid()
    first = make_ct(study_uid=study)
    assert _stow(core, [first]).status_code == 200
    filler = _fill(storage)
    # The parts cannot even be received: 503, try again later, nothing left behind.
    answer = _stow(core, [make_ct(study_uid=study, instance_number=n) for n in (2, 3)])
    assert answer.status_code == 503, answer.text
    assert int(answer.headers["retry-after"]) > 0
    assert set(_reasons(answer).values()) == {OUT_OF_RESOURCES}
    assert "disk is full" in answer.headers["warning"]
    assert list(core.core.archive.storage.incoming.iterdir()) == []
    assert len(list(core.core.archive.find("IMAGE", {}))) == 1
    # dicomweb-client (retrying switched off) sees the 503.
    from dicomweb_client import DICOMwebClient

    client = DICOMwebClient(
        f"{core.base_url}/dicom-web", headers={"Authorization": f"Bearer {core.token()}"}
    )
    client.set_http_retry_params(retry=False)
    with pytest.raises(requests.HTTPError) as refused:
        client.store_instances([make_ct(study_uid=study, instance_number=4)])
    assert refused.value.response.status_code == 503
    # Room for the two parts but not for a new study's folder: the object of the study
    # already stored is kept (its folder exists), the other is refused with 0xA700.
    filler.unlink()
    _limit_files(storage, 2)
    same, new = make_ct(study_uid=study, instance_number=5), make_ct(study_uid=generate_uid())
    answer = _stow(core, [same, new])
    assert answer.status_code == 202, answer.text
    assert _reasons(answer) == {new.SOPInstanceUID: OUT_OF_RESOURCES}
    stored = answer.json()["00081199"]["Value"]
    assert [s["00081155"]["Value"][0] for s in stored] == [same.SOPInstanceUID]
    # Nothing stored, every object for want of room: 503 again.
    _limit_files(storage, 1)
    other = make_ct(study_uid=generate_uid())
    answer = _stow(core, [other])
    assert answer.status_code == 503, answer.text
    assert _reasons(answer) == {other.SOPInstanceUID: OUT_OF_RESOURCES}
    assert list(core.core.archive.storage.incoming.iterdir()) == []
    uids = {a["SOPInstanceUID"] for a in core.core.archive.find("IMAGE", {})}
    assert uids == {first.SOPInstanceUID, same.SOPInstanceUID}
