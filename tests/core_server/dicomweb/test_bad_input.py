"""Bad requests and odd stored objects get clean answers, never a 500: a hostile or careless
client's input is a 4xx with the reason; an object stored before the archive checked what it
checks now (attributes out of order, an image without pixel data, a value its VR does not
allow, a file gone bad) costs only itself, with a logged warning."""

from __future__ import annotations

import base64
import logging
from pathlib import Path

import httpx
import pytest
from pydicom import Dataset, dcmread
from pydicom.filebase import DicomBytesIO
from pydicom.filewriter import write_data_element

from core_server.archive import Origin
from tests.conftest import RunningCore
from tests.core_server.dicomweb.conftest import Corpus, uids
from tests.dicom_data import encode, make_ct

_MULTIPART = 'multipart/related; type="application/dicom"; boundary={}'


def _instance(*uid: str) -> str:
    return "/dicom-web/studies/{}/series/{}/instances/{}".format(*uid)


def _bad_requests(corpus: Corpus) -> list[tuple[str, str, dict[str, str], dict[str, str]]]:
    """(method, path, query, headers) of requests a careless or hostile client sends."""
    instance = _instance(*uids(corpus.zhang[0]))
    xml = 'multipart/related; type="application/dicom+xml"'
    requests: list[tuple[str, str, dict[str, str], dict[str, str]]] = [
        ("GET", f"{instance}/frames/{f}", {}, {}) for f in ("0,abc", "0", "abc", "-1")
    ]
    requests += [("GET", f"{instance}/frames/{f}/rendered", {}, {}) for f in ("0,abc", "x")]
    requests += [("GET", f"{instance}/frames/99999999999999999999", {}, {})]
    for level in ("studies", "series", "instances"):
        for query in (
            {"limit": "abc"},
            {"limit": "99999999999999999999999999"},
            {"offset": "-5"},
            {"offset": "99999999999999999999999"},
            {"includefield": "NoSuchAttribute"},
            {"includefield": "00100010.00100020"},
            {"StudyDate": "2026-11"},
            {"StudyDate": "20261301"},
            {"StudyDate": "-"},
            {"StudyDate": "yesterday-20260101"},
            {"StudyTime": "25"},
            {"PatientBirthDate": "1980"},
            {"fuzzymatching": "maybe"},
            {"NoSuchKey": "x"},
        ):
            requests.append(("GET", f"/dicom-web/{level}", query, {}))
        for accept in ("text/html", "application/dicom+xml", "image/jpeg", "garbage;;;"):
            requests.append(("GET", f"/dicom-web/{level}", {}, {"Accept": accept}))
    requests += [
        ("GET", "/dicom-web/instances", {"SeriesNumber": "abc"}, {}),
        ("GET", "/dicom-web/series", {"SeriesDate": "2026.01.01"}, {}),
        ("GET", f"{instance}/metadata", {}, {"Accept": "text/html"}),
        ("GET", f"{instance}/metadata", {}, {"Accept": "application/dicom+xml"}),
        ("GET", instance, {}, {"Accept": xml}),
        ("GET", f"{instance}/frames/1", {}, {"Accept": "text/plain"}),
        ("GET", f"{instance}/bulk/zz", {}, {}),
        ("GET", f"{instance}/bulk/00100010/0/00100020", {}, {}),
        ("GET", f"{instance}/rendered", {"viewport": "abc"}, {}),
        ("GET", f"{instance}/rendered", {"window": "a,b"}, {}),
        ("GET", f"{instance}/rendered", {"quality": "1000"}, {}),
        ("GET", "/dicom-web/studies/not-a-uid", {}, {}),
        ("GET", "/dicom-web/studies/1.2.3/metadata", {}, {}),
        ("GET", _instance("x" * 300, "1.2", "%00") + "/frames/1", {}, {}),
        ("GET", "/wado", {"requestType": "WADO", "studyUID": "1"}, {}),
    ]
    return requests


def test_bad_requests_are_answered_4xx_with_a_reason(corpus: Corpus) -> None:
    with httpx.Client(base_url=corpus.core.base_url, headers=corpus.headers()) as http:
        for method, path, query, headers in _bad_requests(corpus):
            answer = http.request(method, path, params=query, headers=headers)
            what = f"{method} {path[:80]} {query} {headers}"
            assert 400 <= answer.status_code < 500, (what, answer.status_code, answer.text)
            assert answer.json()["detail"], what  # the reason, for the integrator


def _stow(http: httpx.Client, body: bytes, boundary: str) -> httpx.Response:
    headers = {"Content-Type": _MULTIPART.format(boundary)}
    return http.post("/dicom-web/studies", content=body, headers=headers)


def _part(data: bytes, boundary: str, kind: str = "application/dicom") -> bytes:
    return f"--{boundary}\r\nContent-Type: {kind}\r\n\r\n".encode() + data + b"\r\n"


def test_bad_stow_bodies_are_400_and_store_nothing(core: RunningCore) -> None:
    good = encode(make_ct())
    whole = _part(good, "b1") + b"--b1--\r\n"
    with core.api() as http:
        # RFC 2046 limits a boundary to 70 characters: 5000 is refused, with the reason.
        long = "a" * 5000
        answer = _stow(http, _part(good, long) + f"--{long}--\r\n".encode(), long)
        assert answer.status_code == 400 and "70" in answer.json()["detail"]
        assert _stow(http, whole, "b\x01").status_code == 400  # a control character
        # Cut short anywhere (the client or a proxy gave up): nothing is taken.
        for cut in (40, len(whole) // 2, len(whole) - 10, len(whole) - 4):
            answer = _stow(http, whole[:cut], "b1")
            assert answer.status_code == 400, (cut, answer.text)
            assert "cut short" in answer.json()["detail"] or "no objects" in answer.json()["detail"]
        assert _stow(http, b"", "b1").status_code == 400
        assert _stow(http, b"garbage", "b1").status_code == 400
        broken_header = whole.replace(b"Content-Type: application", b"Content Type application")
        assert _stow(http, broken_header, "b1").status_code == 400
        wrong = http.post(
            "/dicom-web/studies", content=whole, headers={"Content-Type": "application/dicom"}
        )
        assert wrong.status_code == 415
        # Parts that are not DICOM: a clean per-object failure (409: none stored).
        answer = _stow(http, _part(b"hello", "b1", "text/plain") + b"--b1--\r\n", "b1")
        assert answer.status_code == 409
        assert answer.json()["00081198"]["Value"][0]["00081197"]["Value"] == [0xC000]
        assert _stow(http, whole, "b1").status_code == 200  # and a proper body still works
    assert list(core.core.archive.storage.incoming.iterdir()) == []
    assert len(list(core.core.archive.find("IMAGE", {}))) == 1


def _reordered(ds: Dataset) -> bytes:
    """``ds`` as a Part 10 file with its pixel data written first, before every other
    attribute: what a sender with a sorting bug produces."""
    encoded = encode(ds)
    meta = dcmread(DicomBytesIO(encoded)).file_meta
    meta_end = 132 + 12 + int(meta.FileMetaInformationGroupLength)
    elements = []
    for element in ds:
        fp = DicomBytesIO()
        fp.is_little_endian, fp.is_implicit_VR = True, False
        write_data_element(fp, element)
        elements.append(fp.getvalue())
    return encoded[:meta_end] + elements[-1] + b"".join(elements[:-1])


def _with_bad_value(ds: Dataset) -> bytes:
    """``ds`` with an InstanceNumber (IS) of ``abc``, which no number reads."""
    ds.InstanceNumber = 987654
    return encode(ds).replace(b"987654", b"abc   ")


def _replace_file(core: RunningCore, ds: Dataset, data: bytes) -> None:
    """Put ``data`` in place of the stored file of ``ds``: an object as it was stored before
    the archive's ingest checks existed (they now refuse such objects)."""
    study, series, sop = uids(ds)
    keys = {"StudyInstanceUID": study, "SeriesInstanceUID": series, "SOPInstanceUID": sop}
    path: Path = core.core.archive.locate(keys)[0].path
    path.write_bytes(data)


def test_odd_stored_objects_cost_only_themselves(
    core: RunningCore, caplog: pytest.LogCaptureFixture
) -> None:
    study = make_ct().StudyInstanceUID
    objects = [make_ct(study_uid=study, instance_number=n, patient_id="ODD") for n in range(1, 6)]
    for ds in objects:
        core.core.archive.store_instance(encode(ds), Origin("test"))
    out_of_order, no_pixels, bad_value, unreadable, plain = objects
    _replace_file(core, out_of_order, _reordered(out_of_order))
    without = make_ct(
        study_uid=study,
        series_uid=no_pixels.SeriesInstanceUID,
        sop_uid=no_pixels.SOPInstanceUID,
        patient_id="ODD",
    )
    del without.PixelData
    _replace_file(core, no_pixels, encode(without))
    _replace_file(core, bad_value, _with_bad_value(bad_value))
    _replace_file(core, unreadable, b"\x00" * 200)
    caplog.set_level(logging.WARNING)
    with core.api() as http:
        answer = http.get(f"/dicom-web/studies/{study}/metadata")
        assert answer.status_code == 200, answer.text
        found = {i["00080018"]["Value"][0]: i for i in answer.json()}
        # The unreadable one is left out and named; the others are all there.
        assert set(found) == {ds.SOPInstanceUID for ds in objects if ds is not unreadable}
        assert unreadable.SOPInstanceUID in answer.headers["warning"]
        assert any(
            unreadable.SOPInstanceUID in r.getMessage() or "cannot read" in r.getMessage()
            for r in caplog.records
        )
        # Out of order: its attributes after the pixel data are read all the same.
        repaired = Dataset.from_json(found[out_of_order.SOPInstanceUID])
        assert repaired.StudyInstanceUID == study
        assert repaired.PatientID == "ODD" and repaired.Rows == out_of_order.Rows
        assert "attributes out of order" in caplog.text
        # A value its VR does not allow comes as its stored bytes (UN), the rest as usual.
        odd = found[bad_value.SOPInstanceUID]
        assert odd["00200013"]["vr"] == "UN"
        assert base64.b64decode(odd["00200013"]["InlineBinary"]).startswith(b"abc")
        assert odd["00100020"]["Value"] == ["ODD"]
        # The out-of-order object's frames are served; the one without pixels has none: 404.
        frames = http.get(_instance(*uids(out_of_order)) + "/frames/1")
        assert frames.status_code == 200 and out_of_order.PixelData in frames.content
        for tail in ("/frames/1", "/bulk/7FE00010", "/rendered"):
            missing = http.get(_instance(*uids(no_pixels)) + tail)
            assert missing.status_code == 404, (tail, missing.text)
            assert "no pixel data" in missing.json()["detail"]
        assert http.get(_instance(*uids(plain)) + "/frames/1").status_code == 200
    # dicomweb-client reads the study's metadata (4 of the 5 objects).
    from dicomweb_client import DICOMwebClient

    client = DICOMwebClient(
        f"{core.base_url}/dicom-web", headers={"Authorization": f"Bearer {core.token()}"}
    )
    assert len(client.retrieve_study_metadata(study)) == 4
