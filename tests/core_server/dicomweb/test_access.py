"""The DICOMweb role checks without ``app.dependency_overrides`` (docs/one-node.md): while any
override is set, FastAPI rebuilds every dependency of every route on each request."""

from __future__ import annotations

import httpx

from core_server.web.security import SESSION_COOKIE
from tests.core_server.dicomweb.conftest import Corpus, uids


def test_no_dependency_overrides(corpus: Corpus) -> None:
    assert corpus.core.app.dependency_overrides == {}


def test_bearer_cookie_and_refusals(corpus: Corpus) -> None:
    study, series, _sop = uids(corpus.zhang[0])
    path = f"{corpus.core.base_url}/dicom-web/studies/{study}/series/{series}/metadata"
    assert httpx.get(path, headers=corpus.headers("reviewing_doctor")).status_code == 200
    session = {SESSION_COOKIE: corpus.core.token("reviewing_doctor", "dicomweb-pass-1")}
    assert httpx.get(path, cookies=session).status_code == 200  # a browser's viewer
    refused = httpx.get(path, headers=corpus.headers("registrar"))  # may search, not open
    assert refused.status_code == 403
    assert refused.json()["detail"]["code"] == "web.auth.forbidden"
    anonymous = httpx.get(path, headers={"Authorization": "Bearer not-a-token"})
    assert anonymous.status_code == 401
    assert anonymous.headers["www-authenticate"] == "Bearer"
    search = f"{corpus.core.base_url}/dicom-web/studies?PatientID=P1"
    assert httpx.get(search, headers=corpus.headers("registrar")).status_code == 200
    device = httpx.get(search, headers=corpus.headers("device"))
    assert device.status_code == 403
