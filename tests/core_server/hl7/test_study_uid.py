"""The HIS's Study Instance UID (OMI IPC-3, ORM ZDS-1) is the exam's: the modality's worklist
(dcmtk ``findscu -W``) answers it, and a bad or taken UID is refused with an AE."""

from __future__ import annotations

from pathlib import Path

from pydicom import dcmread
from pydicom.uid import generate_uid

from tests.conftest import RunningCore
from tests.core_server.dicom.clients import dcmtk, keys, peer
from tests.core_server.hl7.mllp import ack_fields, message, send
from tests.core_server.hl7.test_inbound import msh, pid, segment


def worklist(core: RunningCore, folder: Path, **match: str) -> list[tuple[str, str]]:
    """(accession, Study Instance UID) of each worklist item ``findscu -W`` gets."""
    folder.mkdir()
    dcmtk(
        "findscu", "-W", "-X", "-od", str(folder), "-aet", "MR01",
        *keys(**{"PatientID": "", "AccessionNumber": "", "StudyInstanceUID": ""} | match),
        "-k", "ScheduledProcedureStepSequence[0].Modality=MR",
        *peer(core),
    )  # fmt: skip
    found = [dcmread(p) for p in sorted(folder.glob("rsp*.dcm"))]
    return sorted((str(d.AccessionNumber), str(d.StudyInstanceUID)) for d in found)


def omi(control_id: str, placer: str, accession: str, study_uid: str) -> bytes:
    return message(
        msh("OMI^O23^OMI_O23", control_id),
        pid("P700", "周^九"),
        f"ORC|NW|{placer}^HIS",
        "OBR|1|" + placer + "^HIS||MR-HEAD^头颅MR平扫^L",
        f"IPC|{accession}|RP{accession}|{study_uid}|SPS{accession}|MR",
    )


def orm(control_id: str, placer: str, accession: str, study_uid: str) -> bytes:
    return message(
        msh("ORM^O01", control_id, version="2.3.1"),
        pid("P700", "周^九"),
        segment("ORC", {1: "NW", 2: f"{placer}^HIS"}),
        segment("OBR", {1: "1", 2: f"{placer}^HIS", 4: "MR-HEAD", 18: accession, 24: "MR"}),
        f"ZDS|{study_uid}^^Application^DICOM",
    )


def test_the_his_study_uid_reaches_the_worklist(core: RunningCore, tmp_path: Path) -> None:
    core.register("MR01")
    port = core.settings.hl7_port
    from_omi, from_orm = generate_uid(), generate_uid()
    answers = send(
        port,
        omi("U1", "ORD71", "ACC71", from_omi),
        orm("U2", "ORD72", "ACC72", from_orm),
        omi("U3", "ORD73", "ACC73", "1.2.0X.3"),  # not a UID
        orm("U4", "ORD74", "ACC74", from_omi),  # the first order's
        omi("U5", "ORD75", "ACC75", ""),  # none: one is made
    )
    codes = [ack_fields(a) for a in answers]
    assert [c["code"] for c in codes] == ["AA", "AA", "AE", "AE", "AA"], codes
    assert "Study Instance UID" in codes[2]["err_text"] and codes[2]["err_code"] == "102"
    assert "Study Instance UID" in codes[3]["err_text"] and codes[3]["err_code"] == "205"
    ris = core.core.ris
    assert ris.exam_by_accession("ACC71").study_instance_uid == from_omi
    assert ris.exam_by_accession("ACC72").study_instance_uid == from_orm
    made = ris.exam_by_accession("ACC75").study_instance_uid
    assert made not in (from_omi, from_orm) and made.startswith(("1.", "2."))

    items = worklist(core, tmp_path / "all")
    assert items == [("ACC71", from_omi), ("ACC72", from_orm), ("ACC75", made)]
    # The modality may ask for the study the HIS named.
    assert worklist(core, tmp_path / "one", StudyInstanceUID=from_orm) == [("ACC72", from_orm)]
