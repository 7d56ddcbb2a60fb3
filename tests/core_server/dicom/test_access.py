"""Who may do what over DICOM: unknown AEs echo and store; query and retrieve need a registered
AE with the right; registry changes apply to the next association; strict mode refuses
unregistered AEs at association."""

from __future__ import annotations

from pathlib import Path

from pydicom import Dataset
from pynetdicom.sop_class import (
    StudyRootQueryRetrieveInformationModelFind,
    StudyRootQueryRetrieveInformationModelGet,
)

from tests.conftest import RunningCore
from tests.core_server.dicom.clients import associate, client_ae, dcmtk, keys, peer
from tests.dicom_data import make_ct, write

# 0x0124 (Refused: Not Authorized, PS3.7 C.5) is a general status dcmtk names for no service
NOT_AUTHORIZED = "(Unknown Status: 0x124)"
FIND_REFUSED = f"Received Final Find Response {NOT_AUTHORIZED}"
FIND_DONE = "Received Final Find Response (Success)"


def echo(core: RunningCore, ae_title: str) -> bool:
    return dcmtk("echoscu", "-aet", ae_title, *peer(core), check=False).returncode == 0


def store(core: RunningCore, ae_title: str, folder: Path, **attributes: str) -> str:
    path = write(make_ct(**attributes), folder)
    return dcmtk("storescu", "-v", "-aet", ae_title, *peer(core), path, check=False).stderr


def find(core: RunningCore, ae_title: str, **identifier: str) -> str:
    query = keys(QueryRetrieveLevel="STUDY", StudyInstanceUID="", **identifier)
    return dcmtk("findscu", "-v", "-S", "-aet", ae_title, *query, *peer(core), check=False).stderr


def get(core: RunningCore, ae_title: str, folder: Path, study: str) -> tuple[str, list[Path]]:
    folder.mkdir(parents=True, exist_ok=True)
    query = keys(QueryRetrieveLevel="STUDY", StudyInstanceUID=study)
    result = dcmtk(
        "getscu", "-v", "-S", "-aet", ae_title, "-od", folder, *query, *peer(core), check=False
    )
    return result.stderr, sorted(folder.iterdir())


def move(core: RunningCore, ae_title: str, study: str, destination: str) -> str:
    query = keys(QueryRetrieveLevel="STUDY", StudyInstanceUID=study)
    args = ["-v", "-S", "-aet", ae_title, "-aem", destination, *query, *peer(core)]
    return dcmtk("movescu", *args, check=False).stderr


def get_status(core: RunningCore, ae_title: str, study: str) -> int:
    """The final C-GET status as pynetdicom sees it (an AE taking no objects back)."""
    ae = client_ae(ae_title)
    ae.add_requested_context(StudyRootQueryRetrieveInformationModelGet)
    assoc = associate(ae, core)
    identifier = Dataset()
    identifier.QueryRetrieveLevel = "STUDY"
    identifier.StudyInstanceUID = study
    try:
        responses = list(assoc.send_c_get(identifier, StudyRootQueryRetrieveInformationModelGet))
    finally:
        assoc.release()
    return int(responses[-1][0].Status)


def find_status(core: RunningCore, ae_title: str) -> int:
    ae = client_ae(ae_title)
    ae.add_requested_context(StudyRootQueryRetrieveInformationModelFind)
    assoc = associate(ae, core)
    identifier = Dataset()
    identifier.QueryRetrieveLevel = "STUDY"
    identifier.StudyInstanceUID = ""
    try:
        responses = list(assoc.send_c_find(identifier, StudyRootQueryRetrieveInformationModelFind))
    finally:
        assoc.release()
    return int(responses[-1][0].Status)


def test_unregistered_ae_may_echo_and_store_only(core: RunningCore, tmp_path: Path) -> None:
    assert echo(core, "STRANGER")
    log = store(core, "STRANGER", tmp_path / "in", patient_id="S1")
    assert "Received Store Response (Success)" in log
    (study,) = [a["StudyInstanceUID"] for a in core.core.archive.find("STUDY", {})]

    assert FIND_REFUSED in find(core, "STRANGER")
    assert find_status(core, "STRANGER") == 0x0124

    log, received = get(core, "STRANGER", tmp_path / "get", study)
    assert received == []
    assert f"Received C-GET Response {NOT_AUTHORIZED}" in log, log
    assert get_status(core, "STRANGER", study) == 0x0124

    core.register("DEST", port=1)  # a known destination: the refusal is about the caller
    log = move(core, "STRANGER", study, "DEST")
    assert "Received Final Move Response (Unknown Status: 0x124)" in log  # refused: not authorised
    assert "Sub-Operations" not in log


def test_registration_applies_to_the_next_association(core: RunningCore, tmp_path: Path) -> None:
    store(core, "MODALITY", tmp_path / "in", patient_id="R1")
    assert FIND_REFUSED in find(core, "VIEWER")
    core.register("VIEWER", allow_query=True, allow_retrieve=False)  # through the REST API
    log = find(core, "VIEWER", PatientID="")
    assert FIND_DONE in log and "R1" in log


def test_rights_are_checked_one_by_one(core: RunningCore, tmp_path: Path) -> None:
    store(core, "MODALITY", tmp_path / "in", patient_id="R2")
    (study,) = [a["StudyInstanceUID"] for a in core.core.archive.find("STUDY", {})]

    core.register("NOQUERY", allow_query=False, allow_retrieve=True, allow_store=True)
    assert echo(core, "NOQUERY")
    assert FIND_REFUSED in find(core, "NOQUERY")
    log, received = get(core, "NOQUERY", tmp_path / "get", study)
    assert len(received) == 1 and "Refused" not in log

    core.register("NORETRIEVE", allow_query=True, allow_retrieve=False)
    assert FIND_DONE in find(core, "NORETRIEVE")
    assert get_status(core, "NORETRIEVE", study) == 0x0124
    core.register("DEST", port=1)
    assert "Unknown Status: 0x124" in move(core, "NORETRIEVE", study, "DEST")

    core.register("NOSTORE", allow_store=False)
    log = store(core, "NOSTORE", tmp_path / "refused", patient_id="R3")
    assert f"Received Store Response {NOT_AUTHORIZED}" in log, log
    assert {a["PatientID"] for a in core.core.archive.find("PATIENT", {})} == {"R2"}


def test_strict_mode_refuses_unregistered_aes_at_association(tmp_path: Path) -> None:
    strict = RunningCore(tmp_path / "data", strict_ae=True).start()
    try:
        result = dcmtk("echoscu", "-v", "-aet", "STRANGER", *peer(strict), check=False)
        assert result.returncode != 0
        assert "Association Rejected" in result.stderr
        log = store(strict, "STRANGER", tmp_path / "in")
        assert "Association Rejected" in log
        assert strict.core.archive.statistics()["instances"] == 0

        strict.register("STRANGER", allow_query=False, allow_retrieve=False)
        assert echo(strict, "STRANGER")  # no restart needed
        assert "Received Store Response (Success)" in store(strict, "STRANGER", tmp_path / "in")
        assert FIND_REFUSED in find(strict, "STRANGER")  # registered, without the right
        assert not echo(strict, "OTHER")
    finally:
        strict.stop()
