"""Forwarding over STOW-RS to a second core's DICOMweb (``/dicom-web/studies``, bearer token):
a study goes in one request and arrives whole; an object the receiver refuses is marked
failed alone (from the answer's Failed SOP Sequence); a wrong token fails the batch, to be
tried again; the admin's test button probes the URL."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from core_server.storage.forwarding import config, queue
from tests.conftest import RunningCore
from tests.core_server.storage.forwarding.conftest import Source, rule_to
from tests.dicom_data import make_ct


@pytest.fixture(scope="module")
def receiver(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningCore]:
    running = RunningCore(tmp_path_factory.mktemp("receiver") / "data").start()
    try:
        yield running
    finally:
        running.stop()


def _stow(source: Source, receiver: RunningCore, token: str) -> config.Destination:
    return config.save_destination(
        source.engine,
        config.Destination(
            name="regional",
            kind="stow",
            url=receiver.base_url + "/dicom-web/studies",
            auth="bearer",
            token=token,
        ),
    )


def test_study_goes_by_stow(sqlite_source: Source, receiver: RunningCore) -> None:
    source = sqlite_source
    dest = _stow(source, receiver, receiver.token())
    rule_to(source.engine, dest)
    uids = source.study(3, patient_id="STOW1")
    assert source.service.test(dest.id) is None

    assert source.service.run_once() == 3
    assert {t["status"] for t in queue.listed(source.engine)} == {"sent"}
    with receiver.api() as client:
        found = client.get(
            "/dicom-web/instances",
            params={"PatientID": "STOW1"},
            headers={"Accept": "application/dicom+json"},
        ).json()
    assert {i["00080018"]["Value"][0] for i in found} == set(uids)


def test_refused_object_fails_alone(sqlite_source: Source, receiver: RunningCore) -> None:
    """The receiver keeps the first object under its UID; a different object under the same
    SOP Instance UID is refused (no overwrite permission) and named in FailedSOPSequence."""
    source = sqlite_source
    dest = _stow(source, receiver, receiver.token())
    rule_to(source.engine, dest)
    kept, clash = source.study(2, patient_id="STOW2")
    with receiver.api() as client:  # the receiver already has another object under `clash`
        other = make_ct(sop_uid=clash, patient_id="OTHER")
        from tests.dicom_data import encode

        boundary = "b0undary"
        body = (
            f"--{boundary}\r\nContent-Type: application/dicom\r\n\r\n".encode()
            + encode(other)
            + f"\r\n--{boundary}--\r\n".encode()
        )
        answer = client.post(
            "/dicom-web/studies",
            content=body,
            headers={
                "Content-Type": f'multipart/related; type="application/dicom"; boundary={boundary}'
            },
        )
        assert answer.status_code == 200

    assert source.service.run_once() == 2
    by_uid = {t["sop_instance_uid"]: t for t in queue.listed(source.engine)}
    assert by_uid[kept]["status"] == "sent"
    assert by_uid[clash]["status"] == "pending"
    assert "failure reason" in str(by_uid[clash]["last_error"]).lower()


def test_wrong_token_waits_to_try_again(
    sqlite_source: Source, receiver: RunningCore, tmp_path: Path
) -> None:
    source = sqlite_source
    dest = _stow(source, receiver, "not-a-token")
    rule_to(source.engine, dest)
    source.study(1, patient_id="STOW3")
    assert source.service.test(dest.id) is not None
    assert source.service.run_once() == 1
    (task,) = queue.listed(source.engine)
    assert task["status"] == "pending" and "401" in str(task["last_error"])
