"""The OHIF viewer at /viewer over real HTTP: the installed bundle, its headers, its generated
configuration (run through Node), the single-page fallback and the launch URL."""

from __future__ import annotations

import gzip
import json
import logging
import re
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest

from core_server.archive import Origin
from core_server.auth import query_audit
from core_server.web.viewer import config as viewer_config
from core_server.web.viewer.bundle import OHIF_VERSION, default_root, installed
from tests.conftest import RunningCore
from tests.dicom_data import encode, make_ct

BUNDLE = default_root() / OHIF_VERSION
needs_bundle = pytest.mark.skipif(
    not installed(BUNDLE),
    reason=f"OHIF BUNDLE MISSING in {BUNDLE}: run `make viewer`; viewer serving NOT TESTED",
)


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningCore]:
    """One core for the module: these tests read, and the launch test adds its own patients."""
    running = RunningCore(tmp_path_factory.mktemp("viewer") / "data").start()
    try:
        yield running
    finally:
        running.stop()


def add_user(core: RunningCore, username: str, role: str) -> httpx.Client:
    """A signed-in API client of a new user who has already chosen a password."""
    with core.api() as admin:
        admin.post(
            "/api/users", json={"username": username, "password": "first-pass-1", "role": role}
        ).raise_for_status()
    with core.api(username, "first-pass-1") as first:
        change = {"current_password": "first-pass-1", "new_password": "password-123"}
        first.post("/api/auth/password", json=change).raise_for_status()
    return core.api(username, "password-123")


@pytest.fixture(scope="module")
def doctor(served: RunningCore) -> Iterator[httpx.Client]:
    with add_user(served, "dr_li", "reporting_doctor") as client:
        yield client


def _check_isolation(answer: httpx.Response) -> None:
    assert answer.headers["cross-origin-opener-policy"] == "same-origin"
    assert answer.headers["cross-origin-embedder-policy"] == "require-corp"
    csp = answer.headers["content-security-policy"]
    assert "default-src 'self'" in csp and "connect-src 'self'" in csp
    assert "http" not in csp  # no outside origin is allowed anywhere


@needs_bundle
def test_index_is_rebased_under_viewer_with_isolation_headers(doctor: httpx.Client) -> None:
    answer = doctor.get("/viewer")
    assert answer.status_code == 200
    _check_isolation(answer)
    assert answer.headers["cache-control"] == "private, no-cache"
    page = answer.text
    assert 'window.PUBLIC_URL="/viewer/"' in page
    linked = re.findall(r'(?:src|href)="([^"]+)"', page)
    assert linked and all(url.startswith("/viewer/") for url in linked)
    # The session guard runs before any of OHIF's scripts.
    assert linked[0] == "/viewer/session-guard.js"
    guard = doctor.get("/viewer/session-guard.js")
    assert guard.headers["content-type"] == "text/javascript; charset=utf-8"
    assert "status === 401" in guard.text
    assert answer.cookies.get("i18next") == "zh"  # OHIF follows the appliance's language
    assert page.startswith('<!doctype html><html lang="zh-CN">')
    english = doctor.get("/viewer", headers={"Cookie": "lang=en"})
    assert english.cookies.get("i18next") == "en-US"
    assert english.text.startswith('<!doctype html><html lang="en">')


@needs_bundle
def test_hashed_scripts_are_served_gzipped_and_cached_for_good(doctor: httpx.Client) -> None:
    page = doctor.get("/viewer").text
    main_script = re.search(r'src="(/viewer/app\.bundle\.[0-9a-f]+\.js)"', page)
    assert main_script
    path = main_script.group(1)
    on_disk = (BUNDLE / path.removeprefix("/viewer/")).read_bytes()
    raw = httpx.get(
        doctor.base_url.join(path), headers={**doctor.headers, "Accept-Encoding": "gzip"}
    )
    assert raw.status_code == 200
    assert raw.headers["content-encoding"] == "gzip"
    assert raw.headers["content-type"] == "text/javascript; charset=utf-8"
    assert raw.headers["cache-control"] == "private, max-age=31536000, immutable"
    assert len(raw.content) == len(on_disk)  # httpx decoded it
    assert raw.content == on_disk
    assert int(raw.headers["content-length"]) < len(on_disk) / 3
    _check_isolation(raw)
    plain = doctor.get(path, headers={"Accept-Encoding": "identity"})
    assert "content-encoding" not in plain.headers and plain.content == on_disk
    wasm = next(p.name for p in BUNDLE.glob("*.wasm"))
    answer = doctor.get(f"/viewer/{wasm}")
    assert answer.headers["content-type"] == "application/wasm"
    assert gzip.decompress(gzip.compress(answer.content)) == (BUNDLE / wasm).read_bytes()


@needs_bundle
def test_the_bundle_loads_everything_from_under_viewer() -> None:
    """The published build hard-codes "/" as webpack's public path; the install moved it."""
    stamp = json.loads((BUNDLE / ".installed.json").read_text())
    assert stamp["version"] == OHIF_VERSION and stamp["prefix"] == "/viewer/"
    scripts = list(BUNDLE.rglob("*.js"))
    assert len(scripts) > 50
    for script in scripts:
        text = script.read_text(encoding="utf-8", errors="replace")
        assert '__webpack_require__.p = "/";' not in text, script
        assert "'/dicom-microscopy-viewer/" not in text, script
    assert not list(BUNDLE.rglob("*.map"))
    assert not (BUNDLE / "app-config.js").exists()  # the upstream one names a cloud server
    manifest = json.loads((BUNDLE / "manifest.json").read_text())
    assert all(icon["src"].startswith("/viewer/assets/") for icon in manifest["icons"])


@needs_bundle
def test_unknown_paths_fall_back_to_the_app(doctor: httpx.Client) -> None:
    index = doctor.get("/viewer").text
    for path in ("/viewer/viewer?StudyInstanceUIDs=1.2.3", "/viewer/tmtv", "/viewer/a/b/c"):
        answer = doctor.get(path)
        assert answer.status_code == 200, path
        assert answer.text == index
        _check_isolation(answer)
    missing = doctor.get("/viewer/no-such-chunk.0123456789abcdef.js")
    assert missing.status_code == 404
    assert doctor.get("/viewer/.installed.json").status_code == 404  # nor hidden files
    escape = doctor.get("/viewer/%2e%2e/%2e%2e/pyvenv.cfg")
    assert escape.status_code in (200, 404) and "home =" not in escape.text


def test_app_config_names_our_dicomweb_and_nothing_outside(doctor: httpx.Client) -> None:
    answer = doctor.get("/viewer/app-config.js")
    assert answer.status_code == 200
    assert answer.headers["content-type"] == "text/javascript; charset=utf-8"
    assert answer.headers["cache-control"] == "private, no-cache"
    # Run it the way the browser does, in Node, and read back window.config.
    node = subprocess.run(
        [
            "node",
            "-e",
            "const window = {}; eval(require('fs').readFileSync(0, 'utf8'));"
            "const c = window.config;"
            "const logo = c.whiteLabeling.createLogoComponentFn("
            "  {createElement: (tag, props, text) => ({tag, href: props.href, text})});"
            "console.log(JSON.stringify({...c, logo}));",
        ],
        input=answer.text,
        capture_output=True,
        text=True,
        check=True,
    )
    config = json.loads(node.stdout)
    assert config["routerBasename"] == "/viewer"
    # The appliance's name, as its own pages show it, linking back to them.
    assert config["logo"] == {"tag": "a", "href": "/", "text": "医学影像中心"}
    assert config["defaultDataSourceName"] == "dicomweb"
    [source] = config["dataSources"]
    assert source["namespace"] == "@ohif/extension-default.dataSourcesModule.dicomweb"
    assert source["sourceName"] == "dicomweb"
    settings = source["configuration"]
    assert settings["qidoRoot"] == settings["wadoRoot"] == "/dicom-web"
    assert settings["wadoUriRoot"] == "/wado"
    assert settings["imageRendering"] == settings["thumbnailRendering"] == "wadors"
    assert settings["staticWado"] is False
    assert settings["qidoSupportsIncludeField"] is False
    assert "http" not in answer.text.replace("httpErrorHandler", "")


# Runs app-config.js in Node and calls every viewport corner item as OHIF 3.13's
# CustomizableViewportOverlay does (contentF with the viewport's props); prints what each corner
# shows, '' and null left out as OHIF leaves them out.
_CORNERS_JS = """
const window = {};
const input = JSON.parse(require('fs').readFileSync(0, 'utf8'));
eval(input.script);
const shown = {};
for (const corner of ['topLeft', 'topRight', 'bottomLeft', 'bottomRight']) {
  const items = window.config.customizationService['viewportOverlay.' + corner].$set;
  shown[corner] = items
    .filter(item => item.inheritsFrom === 'ohif.overlayItem')
    .map(item => item.contentF(input.props, item))
    .filter(value => value !== null && value !== undefined && value !== '');
}
console.log(JSON.stringify({shown, patientInfo: window.config.showPatientInfo}));
"""

CT_PROPS: dict[str, Any] = {
    "referenceInstance": {
        "PatientName": {"Alphabetic": "WANG^JIANGUO", "Ideographic": "王^建国"},
        "PatientID": "P20261128",
        "PatientSex": "M",
        "PatientAge": "046Y",
        "PatientBirthDate": "19800501",
        "StudyDate": "20261128",
        "StudyTime": "083015.123",
        "StudyDescription": "胸部CT平扫",
        "SeriesNumber": 2,
        "SeriesDescription": "肺窗",
        "InstitutionName": "CT ROOM 1",
    },
    "instance": {"InstanceNumber": 3, "SliceLocation": 12.5, "SliceThickness": 5},
    "instances": [{"InstanceNumber": n} for n in (1, 2)] + [{"InstanceNumber": 3}],
    "instanceNumber": 3,
    "imageSliceData": {"imageIndex": 2, "numberOfSlices": 12},
    "voi": {"windowWidth": 400, "windowCenter": 40},
    "scale": 1.5,
}


def _corners(script: str, props: dict[str, Any]) -> dict[str, Any]:
    node = subprocess.run(
        ["node", "-e", _CORNERS_JS],
        input=json.dumps({"script": script, "props": props}),
        capture_output=True,
        text=True,
        check=True,
    )
    return dict(json.loads(node.stdout))


def test_viewport_corners_show_the_patient_in_the_hospital_layout(doctor: httpx.Client) -> None:
    """The four corners in the hospital's layout, in the user's language, the name as 王建国."""
    chinese = _corners(doctor.get("/viewer/app-config.js").text, CT_PROPS)
    assert chinese["shown"] == {
        "topLeft": ["王建国", "男 · 46岁 · 1980-05-01", "患者ID P20261128"],
        # No hospital name configured: the images' institution.
        "topRight": ["CT ROOM 1", "2026-11-28 08:30", "胸部CT平扫", "序列 2 肺窗"],
        "bottomLeft": ["图像 3/12", "层位 12.5 mm 层厚 5 mm"],
        "bottomRight": ["窗宽 400 窗位 40", "缩放 1.50×"],
    }
    # The patient bar in OHIF's header is open and stays open (no "Patient" to click).
    assert chinese["patientInfo"] == "visibleReadOnly"
    english = doctor.get("/viewer/app-config.js", headers={"Cookie": "lang=en"}).text
    assert _corners(english, CT_PROPS)["shown"] == {
        "topLeft": ["王建国", "M · 46 y · 1980-05-01", "ID P20261128"],
        "topRight": ["CT ROOM 1", "2026-11-28 08:30", "胸部CT平扫", "Se 2 肺窗"],
        "bottomLeft": ["Im 3/12", "Loc 12.5 mm Thick 5 mm"],
        "bottomRight": ["W: 400 L: 40", "Zoom 1.50×"],
    }


def test_viewport_corners_read_every_shape_of_name_and_age() -> None:
    script = viewer_config.app_config("医学影像中心", "zh", "北京协和医院")
    names = {
        "WANG^JIANGUO=王^建国": "王建国",  # as a string, groups split by '='
        "张^三": "张三",  # Chinese in the alphabetic group (no '=')
        "=欧阳^娜娜": "欧阳娜娜",
        "WANG^JIANGUO": "WANG JIANGUO",  # a modality without Chinese: no '^'
        "SMITH^JOHN^^DR": "DR SMITH JOHN",
        "": None,
    }
    for given, expected in names.items():
        props = {"referenceInstance": {"PatientName": given}}
        top_left = _corners(script, props)["shown"]["topLeft"]
        assert top_left == ([expected] if expected else []), given
    listed = {
        "referenceInstance": {"PatientName": [{"Alphabetic": "LI^SI", "Ideographic": "李^四"}]}
    }
    assert _corners(script, listed)["shown"]["topLeft"] == ["李四"]
    ages = {  # no PatientAge: from the birth and study dates
        ("20000229", "20260228"): "25岁",
        ("20260301", "20261128"): "8个月",
        ("20261120", "20261128"): "8天",
    }
    for (born, seen), expected in ages.items():
        patient = {"PatientSex": "F", "PatientBirthDate": born, "StudyDate": seen}
        shown = _corners(script, {"referenceInstance": patient})["shown"]
        assert shown["topLeft"] == [f"女 · {expected} · {born[:4]}-{born[4:6]}-{born[6:]}"]
    # The configured hospital name wins over the images' institution.
    assert _corners(script, CT_PROPS)["shown"]["topRight"][0] == "北京协和医院"


def test_viewport_corners_in_a_reconstructed_plane_name_no_acquired_slice() -> None:
    """An MPR sagittal plane has no instance number: no slice location of an axial image."""
    script = viewer_config.app_config("医学影像中心", "zh", "")
    sagittal = {
        **CT_PROPS,
        "instanceNumber": None,
        "imageSliceData": {"imageIndex": 63, "numberOfSlices": 128},
    }
    assert _corners(script, sagittal)["shown"]["bottomLeft"] == ["图像 64/128"]
    # A slice location from the image position when the object has no SliceLocation.
    positioned = {
        **CT_PROPS,
        "instance": {
            "InstanceNumber": 3,
            "ImagePositionPatient": [-64, -64, 10],
            "ImageOrientationPatient": [1, 0, 0, 0, 1, 0],
        },
    }
    assert _corners(script, positioned)["shown"]["bottomLeft"] == ["图像 3/12", "层位 10 mm"]


def _store(core: RunningCore, **attributes: str) -> str:
    dataset = make_ct(**attributes)  # type: ignore[arg-type]
    core.core.archive.store_instance(encode(dataset), Origin("test"))
    return str(dataset.StudyInstanceUID)


def _opened(answer: httpx.Response) -> list[str]:
    assert answer.status_code == 303, answer.text
    location = urlsplit(answer.headers["location"])
    assert location.path == "/viewer/viewer"
    return parse_qs(location.query)["StudyInstanceUIDs"][0].split(",")


def test_launch_by_accession_or_patient_opens_their_studies(
    served: RunningCore, doctor: httpx.Client
) -> None:
    older = _store(served, patient_id="L100", accession="ACC-1", study_date="20260101")
    newer = _store(served, patient_id="L100", accession="ACC-2", study_date="20261101")
    _store(served, patient_id="L200", accession="ACC-3", patient_name="王^五", charset="ISO_IR 192")

    assert _opened(doctor.get("/viewer/launch", params={"AccessionNumber": "ACC-1"})) == [older]
    # A patient's studies, newest first.
    assert _opened(doctor.get("/viewer/launch?PatientID=L100")) == [newer, older]
    direct = doctor.get("/viewer", params={"StudyInstanceUIDs": f"{newer},{older}"})
    assert _opened(direct) == [newer, older]

    _total, records = query_audit(served.core.engine, action="viewer.launch")
    assert {(r.username, r.target) for r in records} >= {("dr_li", "ACC-1"), ("dr_li", "L100")}
    record = next(r for r in records if r.target == "ACC-1")
    assert record.detail["studies"] == [older]


def test_launch_explains_what_it_could_not_open(served: RunningCore, doctor: httpx.Client) -> None:
    missing = doctor.get("/viewer/launch?AccessionNumber=NOT-YET")
    assert missing.status_code == 404
    assert "未找到影像" in missing.text and "AccessionNumber=NOT-YET" in missing.text
    english = doctor.get("/viewer/launch?AccessionNumber=NOT-YET", headers={"Cookie": "lang=en"})
    assert "No images found" in english.text
    for query in ("", "?AccessionNumber=ACC*", "?PatientID=L1%3F0", "?IssuerOfPatientID=X"):
        answer = doctor.get("/viewer/launch" + query)
        assert answer.status_code == 400, query
        assert "无法打开影像" in answer.text
    bad_uid = doctor.get("/viewer/launch?StudyInstanceUIDs=1.2.3,<script>")
    assert bad_uid.status_code == 400 and "<script>" not in bad_uid.text


def test_only_viewing_roles_and_signed_in_users_get_in(served: RunningCore) -> None:
    anonymous = httpx.get(served.base_url + "/viewer/launch?AccessionNumber=ACC-1")
    assert anonymous.status_code in (302, 303, 307)
    assert (
        anonymous.headers["location"] == "/login?next=%2Fviewer%2Flaunch%3FAccessionNumber%3DACC-1"
    )
    assert httpx.get(served.base_url + "/viewer/app-config.js").status_code == 401
    with add_user(served, "reg_wang", "registrar") as registrar:
        assert registrar.get("/viewer/app-config.js").status_code == 403
        assert registrar.get("/viewer/launch?AccessionNumber=ACC-1").status_code == 403


def test_without_the_bundle_the_viewer_says_how_to_install_it(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level(logging.WARNING, logger="core_server.web.viewer"):
        core = RunningCore(tmp_path / "data", viewer_dir=tmp_path / "nowhere").start()
    try:
        assert "OHIF viewer not installed" in caplog.text and "make viewer" in caplog.text
        with core.api() as client:
            for path in ("/viewer", "/viewer/viewer?StudyInstanceUIDs=1.2"):
                answer = client.get(path)
                assert answer.status_code == 503
                assert "影像浏览器尚未安装" in answer.text and "make viewer" in answer.text
            assert client.get("/viewer/app.bundle.0123456789abcdef.js").status_code == 404
            # Installed while the core runs: served from the next request on.
            (tmp_path / "nowhere").mkdir()
            (tmp_path / "nowhere" / "index.html").write_text("<!doctype html><title>OHIF</title>")
            stamp = {"version": OHIF_VERSION, "prefix": "/viewer/"}
            (tmp_path / "nowhere" / ".installed.json").write_text(json.dumps(stamp))
            answer = client.get("/viewer")
            assert answer.status_code == 200 and "<title>OHIF</title>" in answer.text
    finally:
        core.stop()
