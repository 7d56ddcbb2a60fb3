"""STOW-RS into the archive's single ingest path: per-object outcomes, durability before the
answer, role checks."""

from __future__ import annotations

from pathlib import Path

import httpx
import pytest
from pydicom import Dataset
from pydicom.uid import generate_uid

from core_server.archive import Level
from tests.conftest import RunningCore
from tests.core_server.dicomweb.conftest import PASSWORD
from tests.dicom_data import encode, make_ct, testdata


def _multipart(objects: list[bytes], boundary: str = "stow-boundary-1") -> tuple[bytes, str]:
    body = b""
    for data in objects:
        body += f"--{boundary}\r\nContent-Type: application/dicom\r\n\r\n".encode() + data + b"\r\n"
    body += f"--{boundary}--\r\n".encode()
    return body, f'multipart/related; type="application/dicom"; boundary={boundary}'


def _sequence(answer: dict, tag: str) -> list[Dataset]:
    return [Dataset.from_json(item) for item in answer.get(tag, {}).get("Value", [])]


def test_stow_with_dicomweb_client(core: RunningCore) -> None:
    from dicomweb_client import DICOMwebClient

    client = DICOMwebClient(
        f"{core.base_url}/dicom-web", headers={"Authorization": f"Bearer {core.token()}"}
    )
    study = generate_uid()
    objects = [
        make_ct(study_uid=study, patient_name="Wang^Wu=王^五", charset="GB18030", instance_number=n)
        for n in (1, 2)
    ]
    answer = client.store_instances(objects)
    assert answer.RetrieveURL.endswith(f"/dicom-web/studies/{study}")
    assert sorted(i.ReferencedSOPInstanceUID for i in answer.ReferencedSOPSequence) == sorted(
        ds.SOPInstanceUID for ds in objects
    )
    assert "FailedSOPSequence" not in answer
    # Stored (committed) before the answer: the archive finds them, with the Chinese name.
    found = list(core.core.archive.find(Level.IMAGE, {"StudyInstanceUID": study}))
    assert len(found) == 2 and found[0]["PatientName"] == "Wang^Wu=王^五"
    back = client.retrieve_instance(study, objects[0].SeriesInstanceUID, objects[0].SOPInstanceUID)
    assert back.PatientName == objects[0].PatientName


def test_stow_reports_each_failure_and_keeps_the_good(core: RunningCore) -> None:
    study = generate_uid()
    good = [make_ct(study_uid=study, instance_number=n) for n in (1, 2)]
    truncated = encode(make_ct(study_uid=study, instance_number=3))[:-100]
    other_study = make_ct(instance_number=4)
    compressed = testdata("JPEG2000.dcm").read_bytes()  # another study too
    parts = [encode(good[0]), truncated, b"not dicom at all", encode(other_study), encode(good[1])]
    body, kind = _multipart(parts)
    with core.api() as http:
        answer = http.post(
            f"/dicom-web/studies/{study}", content=body, headers={"Content-Type": kind}
        )
        assert answer.status_code == 202, answer.text
        result = answer.json()
        stored = _sequence(result, "00081199")
        failed = _sequence(result, "00081198")
        assert [s.ReferencedSOPInstanceUID for s in stored] == [g.SOPInstanceUID for g in good]
        reasons = {f.ReferencedSOPInstanceUID: f.FailureReason for f in failed}
        assert len(failed) == 3
        assert reasons[other_study.SOPInstanceUID] == 0xA900  # not of the study posted to
        assert 0xC000 in reasons.values()  # the truncated one and the garbage
        assert "truncated" in answer.headers["warning"]
        # Nothing but the good ones reached the archive; nothing is left in the incoming folder.
        uids = {a["SOPInstanceUID"] for a in core.core.archive.find(Level.IMAGE, {})}
        assert uids == {g.SOPInstanceUID for g in good}
        assert list(core.core.archive.storage.incoming.iterdir()) == []
        # None stored: 409. A duplicate is a success.
        body, kind = _multipart([b"garbage"])
        assert (
            http.post(
                "/dicom-web/studies", content=body, headers={"Content-Type": kind}
            ).status_code
            == 409
        )
        body, kind = _multipart([encode(good[0]), compressed])
        again = http.post("/dicom-web/studies", content=body, headers={"Content-Type": kind})
        assert again.status_code == 200 and len(_sequence(again.json(), "00081199")) == 2
        wrong = http.post(
            "/dicom-web/studies", content=b"x", headers={"Content-Type": "application/dicom"}
        )
        assert wrong.status_code == 415
        json_parts = kind.replace("application/dicom", "application/dicom+json")
        assert (
            http.post(
                "/dicom-web/studies", content=body, headers={"Content-Type": json_parts}
            ).status_code
            == 415
        )
        broken = http.post("/dicom-web/studies", content=b"--nope", headers={"Content-Type": kind})
        assert broken.status_code == 400


def test_stow_roles(core: RunningCore) -> None:
    from core_server import auth

    for role in ("device", "technician", "clinician", "registrar"):
        auth.create_user(core.core.engine, role, PASSWORD, role)
    body, kind = _multipart([encode(make_ct())])
    assert (
        httpx.post(
            core.base_url + "/dicom-web/studies", content=body, headers={"Content-Type": kind}
        ).status_code
        == 401
    )
    for role, expected in (
        ("clinician", 403),
        ("registrar", 403),
        ("device", 200),
        ("technician", 200),
    ):
        body, kind = _multipart([encode(make_ct())])
        with core.api(role, PASSWORD) as http:
            answer = http.post("/dicom-web/studies", content=body, headers={"Content-Type": kind})
            assert answer.status_code == expected, (role, answer.text)


@pytest.mark.postgres
def test_stow_then_view_on_each_database(core_on: RunningCore) -> None:
    """STOW-RS, then what a viewer does next (series, metadata twice: cached, a frame)."""
    study, series_uid = generate_uid(), generate_uid()
    objects = [
        make_ct(
            study_uid=study,
            series_uid=series_uid,
            patient_name="Zhao^Liu=赵^六",
            charset="GB18030",
            instance_number=n,
        )
        for n in (1, 2, 3)
    ]
    body, kind = _multipart([encode(ds) for ds in objects])
    with core_on.api() as http:
        stored = http.post("/dicom-web/studies", content=body, headers={"Content-Type": kind})
        assert stored.status_code == 200, stored.text
        series = http.get(f"/dicom-web/studies/{study}/series").json()
        assert series[0]["00201209"]["Value"] == [3]
        path = f"/dicom-web/studies/{study}/series/{objects[0].SeriesInstanceUID}"
        first = http.get(path + "/metadata")
        again = http.get(path + "/metadata")
        assert first.status_code == again.status_code == 200
        assert first.json() == again.json()
        names = {item["00100010"]["Value"][0]["Ideographic"] for item in first.json()}
        assert names == {"赵^六"}
        frame = http.get(
            f"{path}/instances/{objects[2].SOPInstanceUID}/frames/1",
            headers={"Accept": 'multipart/related; type="application/octet-stream"'},
        )
        assert frame.status_code == 200 and objects[2].PixelData in frame.content


def test_retrieve_url_is_under_the_public_url(tmp_path: Path) -> None:
    """With ``--public-url`` the RetrieveURLs a STOW answers (kept by a RIS, followed later by
    others) are under it, whatever Host header the sender used."""
    from dicomweb_client import DICOMwebClient

    core = RunningCore(tmp_path / "data", public_url="https://pacs.example.cn/").start()
    try:
        client = DICOMwebClient(
            f"{core.base_url}/dicom-web", headers={"Authorization": f"Bearer {core.token()}"}
        )
        ds = make_ct()
        answer = client.store_instances([ds])
        assert (
            answer.RetrieveURL == f"https://pacs.example.cn/dicom-web/studies/{ds.StudyInstanceUID}"
        )
        (referenced,) = answer.ReferencedSOPSequence
        assert referenced.RetrieveURL.startswith("https://pacs.example.cn/dicom-web/studies/")
        body, kind = _multipart([encode(make_ct())])
        with core.api() as http:
            forged = http.post(
                "/dicom-web/studies",
                content=body,
                headers={"Content-Type": kind, "Host": "attacker.example"},
            )
        assert forged.status_code == 200, forged.text
        assert "attacker" not in forged.text
        assert forged.json()["00081190"]["Value"][0].startswith("https://pacs.example.cn/")
    finally:
        core.stop()


def test_a_different_object_under_a_stored_uid_is_refused_per_object(core: RunningCore) -> None:
    """The archive keeps the stored object when a sender that may not replace it sends another
    under its SOP Instance UID: STOW reports that object as failed (0xC409, the C-STORE status
    for the same refusal), with the reason, and stores the others."""
    first = make_ct(patient_name="Zhang^San")
    forged = make_ct(
        study_uid=first.StudyInstanceUID,
        series_uid=first.SeriesInstanceUID,
        sop_uid=first.SOPInstanceUID,
        patient_name="Forged^Name",
        instance_number=7,
    )
    other = make_ct(study_uid=first.StudyInstanceUID)
    with core.api() as http:
        body, kind = _multipart([encode(first)])
        stored = http.post("/dicom-web/studies", content=body, headers={"Content-Type": kind})
        assert stored.status_code == 200
        body, kind = _multipart([encode(forged), encode(other)])
        answer = http.post("/dicom-web/studies", content=body, headers={"Content-Type": kind})
    assert answer.status_code == 202, answer.text
    (failed,) = _sequence(answer.json(), "00081198")
    assert failed.ReferencedSOPInstanceUID == first.SOPInstanceUID
    assert failed.FailureReason == 0xC409
    assert first.SOPInstanceUID in answer.headers["warning"]
    (kept,) = core.core.archive.find(Level.IMAGE, {"SOPInstanceUID": first.SOPInstanceUID})
    assert kept["PatientName"] == "Zhang^San"
