"""WADO-RS over real HTTP: instances in their stored and in explicit little endian syntax,
metadata against pydicom's JSON of the same files, frames, bulk data, rendered images and
thumbnails, role checks and the audit trail."""

from __future__ import annotations

from io import BytesIO

import httpx
import numpy as np
import pytest
from PIL import Image
from pydicom import Dataset, dcmread
from pydicom.encaps import get_frame
from pydicom.uid import ExplicitVRLittleEndian

from core_server import auth
from core_server.dicomweb.tables import instance_metadata
from tests.core_server.dicomweb.conftest import COMPRESSED, Corpus, uids

ANY_SYNTAX = 'multipart/related; type="application/octet-stream"; transfer-syntax=*'


def _parts(answer: httpx.Response) -> list[tuple[dict[str, str], bytes]]:
    """The body parts of a multipart/related answer, with their headers."""
    kind = answer.headers["content-type"]
    assert kind.startswith("multipart/related"), kind
    boundary = kind.split("boundary=")[1].split(";")[0].strip('"').encode()
    parts = []
    for chunk in answer.content.split(b"--" + boundary)[1:]:
        if chunk.startswith(b"--"):
            break
        head, _, data = chunk.partition(b"\r\n\r\n")
        headers = dict(
            line.split(": ", 1) for line in head.decode().strip().split("\r\n") if ": " in line
        )
        parts.append(({k.lower(): v for k, v in headers.items()}, data.removesuffix(b"\r\n")))
    return parts


def _path(*uid: str) -> str:
    names = ("studies", "series", "instances")
    return "/dicom-web/" + "/".join(f"{n}/{u}" for n, u in zip(names, uid, strict=False))


@pytest.mark.parametrize("name", [*COMPRESSED, "MR_small_implicit.dcm"])
def test_instance_as_stored_is_the_stored_file(corpus: Corpus, name: str) -> None:
    stored = corpus.objects[name]
    client = corpus.client()
    got = client.retrieve_instance(*uids(stored), media_types=(("application/dicom", "*"),))
    assert got.file_meta.TransferSyntaxUID == stored.file_meta.TransferSyntaxUID
    assert got.PixelData == stored.PixelData
    plain = client.retrieve_instance(
        *uids(stored), media_types=(("application/dicom", ExplicitVRLittleEndian),)
    )
    assert plain.file_meta.TransferSyntaxUID == ExplicitVRLittleEndian
    assert plain.SOPInstanceUID == stored.SOPInstanceUID
    assert np.array_equal(plain.pixel_array, stored.pixel_array)
    # Without a transfer syntax, the standard's default: explicit VR little endian.
    with httpx.Client(base_url=corpus.core.base_url, headers=corpus.headers()) as http:
        answer = http.get(
            _path(*uids(stored)), headers={"Accept": 'multipart/related; type="application/dicom"'}
        )
        ((headers, data),) = _parts(answer)
        assert headers["content-type"].endswith(f"transfer-syntax={ExplicitVRLittleEndian}")
        assert np.array_equal(dcmread(BytesIO(data)).pixel_array, stored.pixel_array)


def test_study_and_series_retrieve_every_instance(corpus: Corpus) -> None:
    client = corpus.client()
    study, ct_series, _ = uids(corpus.zhang[0])
    got = client.retrieve_study(study, media_types=(("application/dicom", "*"),))
    assert sorted(ds.SOPInstanceUID for ds in got) == sorted(
        ds.SOPInstanceUID for ds in corpus.zhang
    )
    assert all(ds.PatientName == "Zhang^San=张^三" for ds in got)
    series = client.retrieve_series(study, ct_series)
    assert len(series) == 3
    with httpx.Client(base_url=corpus.core.base_url, headers=corpus.headers()) as http:
        answer = http.get(_path(study), headers={"Accept": ANY_SYNTAX.replace("octet-stream", "x")})
        assert answer.status_code == 406
        assert http.get(_path("1.2.3")).status_code == 404
        li = corpus.li
        assert li is not None
        answer = http.get(
            _path(*uids(li)),
            headers={"Accept": 'multipart/related; type="application/dicom"; transfer-syntax=*'},
        )
        ((headers, data),) = _parts(answer)
        assert (
            headers["content-type"]
            == f"application/dicom; transfer-syntax={ExplicitVRLittleEndian}"
        )
        assert dcmread(BytesIO(data)).PatientName == li.PatientName  # GB18030 kept as stored


def _pydicom_json(ds: Dataset) -> dict:
    return ds.to_json_dict(bulk_data_threshold=1024, bulk_data_element_handler=lambda e: "bulk")


@pytest.mark.parametrize(
    "name", ["CT_small.dcm", "MR_small_implicit.dcm", "JPEG2000.dcm", "SC_rgb_rle_2frame.dcm"]
)
def test_metadata_is_pydicoms_json_of_the_file(corpus: Corpus, name: str) -> None:
    stored = corpus.objects[name]
    client = corpus.client()
    with httpx.Client(base_url=corpus.core.base_url, headers=corpus.headers()) as http:
        (got,) = http.get(_path(*uids(stored)) + "/metadata").json()
    assert client.retrieve_instance_metadata(*uids(stored))["00080018"] == got["00080018"]
    expected = _pydicom_json(stored)
    for key, value in expected.items():
        if key == "7FE00010" or "BulkDataURI" in value or "InlineBinary" in value:
            continue
        if key.endswith("0000") or key == "00080005":
            continue  # group lengths are left out; every JSON value is Unicode (ISO_IR 192)
        assert got[key] == value, key
    pixel = got["7FE00010"]
    assert pixel["BulkDataURI"].startswith(corpus.core.base_url + "/dicom-web/studies/")
    frames = client.retrieve_bulkdata(
        pixel["BulkDataURI"], media_types=(("application/octet-stream", "*"),)
    )
    count = int(stored.get("NumberOfFrames", 1))
    assert len(frames) == count
    if not stored.file_meta.TransferSyntaxUID.is_compressed:
        assert b"".join(frames) == stored.PixelData


def test_bulk_data_values_top_level_and_nested(corpus: Corpus) -> None:
    bulky = corpus.objects["bulky"]
    with httpx.Client(base_url=corpus.core.base_url, headers=corpus.headers()) as http:
        (got,) = http.get(_path(*uids(bulky)) + "/metadata").json()
        overlay = got["60003000"]["BulkDataURI"]
        icon = got["00880200"]["Value"][0]["7FE00010"]["BulkDataURI"]
        assert overlay.endswith("/bulk/60003000") and icon.endswith("/bulk/00880200/0/7FE00010")
        assert got["00880200"]["Value"][0]["00280010"] == {"vr": "US", "Value": [40]}
        single = {"Accept": "application/octet-stream"}
        assert http.get(overlay, headers=single).content == bulky[0x60003000].value
        assert http.get(icon, headers=single).content == bulky.IconImageSequence[0].PixelData
        ((headers, data),) = _parts(http.get(overlay))  # multipart by default
        assert headers["content-type"] == "application/octet-stream"
        assert data == bulky[0x60003000].value
        assert http.get(overlay.replace("60003000", "60003001")).status_code == 404
        assert http.get(icon.replace("/0/", "/1/")).status_code == 404
        assert http.get(overlay.replace("60003000", "zz")).status_code == 404


def test_series_metadata_is_cached_and_chinese(corpus: Corpus) -> None:
    client = corpus.client()
    study, ct_series, _ = uids(corpus.zhang[0])
    first = client.retrieve_series_metadata(study, ct_series)
    assert len(first) == 3
    assert first[0]["00100010"]["Value"] == [{"Alphabetic": "Zhang^San", "Ideographic": "张^三"}]
    assert first[0]["00080005"]["Value"] == ["ISO_IR 192"]
    assert Dataset.from_json(first[0], lambda *_: b"").StudyDescription == "胸部CT平扫"
    with corpus.core.core.engine.connect() as conn:
        cached = {r.sop_instance_uid for r in conn.execute(instance_metadata.select())}
    assert {ds.SOPInstanceUID for ds in corpus.zhang[:3]} <= cached
    assert client.retrieve_series_metadata(study, ct_series) == first
    li = corpus.li
    assert li is not None
    (li_json,) = client.retrieve_study_metadata(li.StudyInstanceUID)
    assert Dataset.from_json(li_json, lambda *_: b"").PatientName == li.PatientName
    assert len(client.retrieve_study_metadata(study)) == 5


@pytest.mark.parametrize(
    "name",
    ["JPEG2000.dcm", "MR_small_RLE.dcm", "SC_rgb_jpeg_dcmtk.dcm", "MR_small_jpeg_ls_lossless.dcm"],
)
def test_compressed_frames_as_stored_for_ohif(corpus: Corpus, name: str) -> None:
    stored = corpus.objects[name]
    with httpx.Client(base_url=corpus.core.base_url, headers=corpus.headers()) as http:
        answer = http.get(_path(*uids(stored)) + "/frames/1", headers={"Accept": ANY_SYNTAX})
        assert answer.status_code == 200, answer.text
        ((headers, data),) = _parts(answer)
        syntax = stored.file_meta.TransferSyntaxUID
        assert headers["content-type"].endswith(f"transfer-syntax={syntax}")
        assert data == get_frame(stored.PixelData, 0, number_of_frames=1)
        # Without a transfer syntax: native samples, decoded here.
        native = http.get(
            _path(*uids(stored)) + "/frames/1",
            headers={"Accept": ANY_SYNTAX.removesuffix("; transfer-syntax=*")},
        )
        ((headers, data),) = _parts(native)
        assert (
            headers["content-type"]
            == f"application/octet-stream; transfer-syntax={ExplicitVRLittleEndian}"
        )
        from pydicom.pixels import pixel_array

        assert data == pixel_array(stored, raw=True).tobytes()


def test_frames_of_multiframe_and_uncompressed(corpus: Corpus) -> None:
    client = corpus.client()
    two = corpus.objects["SC_rgb_rle_2frame.dcm"]
    frames = client.retrieve_instance_frames(
        *uids(two), frame_numbers=[2, 1], media_types=(("application/octet-stream", "*"),)
    )
    assert frames == [get_frame(two.PixelData, i, number_of_frames=2) for i in (1, 0)]
    ct = corpus.objects["CT_small.dcm"]
    (frame,) = client.retrieve_instance_frames(*uids(ct), frame_numbers=[1])
    assert frame == ct.PixelData
    with httpx.Client(base_url=corpus.core.base_url, headers=corpus.headers()) as http:
        assert http.get(_path(*uids(two)) + "/frames/3").status_code == 404
        assert http.get(_path(*uids(two)) + "/frames/0").status_code == 400
        assert http.get(_path(*uids(two)) + "/frames/x").status_code == 400


def _image(answer: httpx.Response, kind: str) -> Image.Image:
    assert answer.status_code == 200, answer.text
    assert answer.headers["content-type"] == kind
    return Image.open(BytesIO(answer.content))


def test_rendered_and_thumbnails(corpus: Corpus) -> None:
    ct = corpus.objects["CT_small.dcm"]
    base = _path(*uids(ct))
    with httpx.Client(base_url=corpus.core.base_url, headers=corpus.headers()) as http:
        jpeg = _image(http.get(base + "/rendered"), "image/jpeg")
        assert jpeg.size == (ct.Columns, ct.Rows) and jpeg.mode == "L"
        zhang = corpus.zhang[0]
        with_window = _path(*uids(zhang)) + "/rendered"
        png = _image(http.get(with_window, headers={"Accept": "image/png"}), "image/png")
        # PNG is lossless: the object's own window, applied here with numpy, gives the same
        # (the server goes through a look-up table of the stored values).
        values = zhang.pixel_array.astype(float)
        c, w = float(zhang.WindowCenter), float(zhang.WindowWidth)
        expected = np.clip(((values - (c - 0.5)) / (w - 1) + 0.5), 0, 1) * 255
        assert np.abs(np.asarray(png, dtype=float) - np.rint(expected)).max() <= 1
        wide = _image(
            http.get(with_window, params={"window": "0,4000"}, headers={"Accept": "image/png"}),
            "image/png",
        )
        assert not np.array_equal(np.asarray(wide), np.asarray(png))
        # No window in the object: its values stretched over the grey scale.
        ct_png = _image(http.get(base + "/rendered", headers={"Accept": "image/png"}), "image/png")
        assert np.asarray(ct_png).min() == 0 and np.asarray(ct_png).max() == 255
        small = _image(http.get(base + "/rendered", params={"viewport": "64,64"}), "image/jpeg")
        assert small.size == (64, 64)
        thumb = _image(http.get(base + "/thumbnail"), "image/jpeg")
        assert max(thumb.size) == 128
        colour = _image(
            http.get(_path(*uids(corpus.objects["SC_rgb_jpeg_dcmtk.dcm"])) + "/frames/1/rendered"),
            "image/jpeg",
        )
        assert colour.mode == "RGB"
        frame2 = _image(
            http.get(
                _path(*uids(corpus.objects["SC_rgb_rle_2frame.dcm"])) + "/frames/2/rendered",
                headers={"Accept": "image/png"},
            ),
            "image/png",
        )
        assert frame2.mode == "RGB"
        study, series, _ = uids(corpus.zhang[0])
        _image(http.get(f"/dicom-web/studies/{study}/thumbnail"), "image/jpeg")
        _image(http.get(f"/dicom-web/studies/{study}/series/{series}/thumbnail"), "image/jpeg")
        assert http.get(base + "/rendered", headers={"Accept": "image/gif"}).status_code == 406
        assert http.get(base + "/rendered", params={"window": "40"}).status_code == 400
        assert http.get(base + "/frames/2/rendered").status_code == 404


def test_roles_and_audit(corpus: Corpus) -> None:
    study, series, sop = uids(corpus.zhang[0])
    base = corpus.core.base_url
    anonymous = httpx.get(base + "/dicom-web/studies")
    assert anonymous.status_code == 401
    for role in ("registrar", "device"):
        with httpx.Client(base_url=base, headers=corpus.headers(role)) as http:
            searched = http.get("/dicom-web/studies")
            assert searched.status_code == (200 if role == "registrar" else 403)
            assert http.get(_path(study, series) + "/metadata").status_code == 403
            assert http.get(_path(study, series, sop) + "/frames/1").status_code == 403
            assert http.get(_path(study)).status_code == 403
    for role in ("technician", "reporting_doctor", "reviewing_doctor", "clinician"):
        with httpx.Client(base_url=base, headers=corpus.headers(role)) as http:
            assert http.get(_path(study, series) + "/metadata").status_code == 200
    with httpx.Client(base_url=base, headers=corpus.headers("clinician")) as http:
        assert http.get(_path(study)).status_code == 200
    _, viewed = auth.query_audit(
        corpus.core.core.engine, username="clinician", action="dicomweb.study_viewed"
    )
    _, taken = auth.query_audit(
        corpus.core.core.engine, username="clinician", action="dicomweb.study_retrieved"
    )
    assert [e.target for e in viewed] == [f"study:{study}"]
    assert [e.target for e in taken] == [f"study:{study}"]
