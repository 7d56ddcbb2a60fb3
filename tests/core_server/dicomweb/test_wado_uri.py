"""WADO-URI at /wado, including the percent-encoded form of the standard's examples."""

from __future__ import annotations

from io import BytesIO

import httpx
import numpy as np
from PIL import Image
from pydicom import dcmread
from pydicom.uid import ExplicitVRLittleEndian

from tests.core_server.dicomweb.conftest import Corpus


def _query(ds, **extra: str) -> str:  # type: ignore[no-untyped-def]
    return (
        f"/wado?requestType=WADO&studyUID={ds.StudyInstanceUID}&seriesUID={ds.SeriesInstanceUID}"
        f"&objectUID={ds.SOPInstanceUID}" + "".join(f"&{k}={v}" for k, v in extra.items())
    )


def test_wado_uri_dicom_and_images(corpus: Corpus) -> None:
    j2k = corpus.objects["JPEG2000.dcm"]
    with httpx.Client(base_url=corpus.core.base_url, headers=corpus.headers()) as http:
        # PS3.18's example spelling: contentType=application%2Fdicom
        answer = http.get(_query(j2k, contentType="application%2Fdicom"))
        assert answer.status_code == 200 and answer.headers["content-type"] == "application/dicom"
        got = dcmread(BytesIO(answer.content))
        assert got.file_meta.TransferSyntaxUID == ExplicitVRLittleEndian  # the default
        assert np.array_equal(got.pixel_array, j2k.pixel_array)
        syntax = j2k.file_meta.TransferSyntaxUID
        answer = http.get(_query(j2k, contentType="application%2Fdicom", transferSyntax=syntax))
        assert dcmread(BytesIO(answer.content)).PixelData == j2k.PixelData  # as stored
        jpeg = http.get(_query(j2k))  # an image: JPEG by default
        assert jpeg.headers["content-type"] == "image/jpeg"
        assert Image.open(BytesIO(jpeg.content)).size == (j2k.Columns, j2k.Rows)
        png = http.get(_query(j2k, contentType="image%2Fpng", rows="32"))
        assert Image.open(BytesIO(png.content)).size[1] == 32
        zhang = corpus.zhang[0]
        narrow = http.get(_query(zhang, contentType="image/png", windowCenter="0", windowWidth="1"))
        assert set(np.unique(np.asarray(Image.open(BytesIO(narrow.content))))) <= {0, 255}
        two = corpus.objects["SC_rgb_rle_2frame.dcm"]
        assert http.get(_query(two, frameNumber="2")).status_code == 200
        assert http.get(_query(two, frameNumber="3")).status_code == 404
        assert http.get(_query(zhang, windowCenter="40")).status_code == 400
        assert http.get(_query(zhang, contentType="image/gif")).status_code == 406
        assert (
            http.get(_query(zhang).replace("requestType=WADO", "requestType=X")).status_code == 400
        )
        assert http.get(_query(zhang).replace(zhang.SOPInstanceUID, "1.2.3")).status_code == 404
        assert (
            http.get(f"/wado?requestType=WADO&studyUID={zhang.StudyInstanceUID}").status_code == 400
        )
    with httpx.Client(base_url=corpus.core.base_url, headers=corpus.headers("registrar")) as http:
        assert http.get(_query(zhang)).status_code == 403
    assert httpx.get(corpus.core.base_url + _query(zhang)).status_code == 401
