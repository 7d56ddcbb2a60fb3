"""Modality Worklist SCP with dcmtk's ``findscu -W``: Chinese names in the character set the
modality asks for, pinyin only for an ASCII-only modality, station/modality/date matching."""

from __future__ import annotations

from datetime import datetime
from io import BytesIO
from pathlib import Path

import pytest
from pydicom import Dataset, dcmread
from pydicom.sequence import Sequence
from pynetdicom.dsutils import decode, encode
from pynetdicom.sop_class import ModalityPerformedProcedureStep, ModalityWorklistInformationFind

from core_server.dicom import direct
from core_server.ris import OrderIn, PatientIn, ProcedureRequest
from tests.conftest import RunningCore
from tests.core_server.dicom.clients import associate, client_ae, dcmtk, peer

STEP = "ScheduledProcedureStepSequence[0]"


@pytest.fixture
def scheduled(core: RunningCore) -> dict[str, str]:
    core.register("CT01")
    core.register("DR01")
    with core.api() as admin:
        admin.patch("/api/modalities/DR01", json={"ascii_only": True}).raise_for_status()
    ris = core.core.ris
    ris.register_patient(PatientIn("P1", "张三", sex="M"), username="reg")
    ris.register_patient(PatientIn("P2", "李四", sex="F"), username="reg")
    now = datetime.now().replace(microsecond=0)
    ct = ris.place_order(
        "P1",
        "",
        OrderIn("O1", (ProcedureRequest("CT-CHEST", room="CT1", scheduled_at=now),)),
        username="reg",
    ).exams[0]
    dr = ris.place_order(
        "P2",
        "",
        OrderIn("O2", (ProcedureRequest("DR-CHEST-PA", room="DR1", scheduled_at=now),)),
        username="reg",
    ).exams[0]
    return {"ct": ct.accession_number, "dr": dr.accession_number, "day": now.strftime("%Y%m%d")}


def _worklist(core: RunningCore, folder: Path, calling: str, *keys: str) -> list:
    folder.mkdir(parents=True, exist_ok=True)
    args = ["findscu", "-W", "-X", "-od", str(folder), "-aet", calling]
    for key in (
        "PatientName",
        "PatientID",
        "PatientSex",
        "AccessionNumber",
        "StudyInstanceUID",
        "RequestedProcedureDescription",
        f"{STEP}.Modality",
        f"{STEP}.ScheduledProcedureStepDescription",
        f"{STEP}.ScheduledProcedureStepID",
        *keys,
    ):
        args += ["-k", key]
    dcmtk(*args, *peer(core))
    return [dcmread(p) for p in sorted(folder.glob("rsp*.dcm"))]


def test_chinese_name_in_gb18030_and_utf8(
    core: RunningCore, scheduled: dict[str, str], tmp_path: Path
) -> None:
    (gb,) = _worklist(
        core,
        tmp_path / "gb",
        "CT01",
        "SpecificCharacterSet=GB18030",
        f"{STEP}.ScheduledStationAETitle=CT01",
        f"{STEP}.ScheduledProcedureStepStartDate={scheduled['day']}",
    )
    assert gb.SpecificCharacterSet == "GB18030"
    assert str(gb.PatientName) == "ZHANG^SAN=张^三"
    assert gb.AccessionNumber == scheduled["ct"]
    assert gb.ScheduledProcedureStepSequence[0].ScheduledProcedureStepDescription == "胸部CT平扫"
    raw = (tmp_path / "gb").glob("rsp*.dcm").__next__().read_bytes()
    assert "张^三".encode("gb18030") in raw
    (utf8,) = _worklist(
        core,
        tmp_path / "utf8",
        "CT01",
        "SpecificCharacterSet=ISO_IR 192",
        f"{STEP}.Modality=CT",
    )
    assert utf8.SpecificCharacterSet == "ISO_IR 192"
    assert str(utf8.PatientName) == "ZHANG^SAN=张^三"
    # GBK and ISO 2022 IR 58 (GB 2312 with code extensions), as older consoles ask.
    ct_only = f"{STEP}.Modality=CT"
    (gbk,) = _worklist(core, tmp_path / "gbk", "CT01", "SpecificCharacterSet=GBK", ct_only)
    assert (gbk.SpecificCharacterSet, str(gbk.PatientName)) == ("GBK", "ZHANG^SAN=张^三")
    (ir58,) = _worklist(
        core, tmp_path / "ir58", "CT01", "SpecificCharacterSet=\\ISO 2022 IR 58", ct_only
    )
    assert list(ir58.SpecificCharacterSet) == ["", "ISO 2022 IR 58"]
    assert str(ir58.PatientName) == "ZHANG^SAN=张^三"
    raw = next((tmp_path / "ir58").glob("rsp*.dcm")).read_bytes()
    assert b"\x1b$)A" in raw  # the G1 designation of GB 2312 before the ideographs
    # Without a character set the Chinese values still arrive, in UTF-8.
    (plain,) = _worklist(core, tmp_path / "plain", "CT01", "PatientName=ZHANG*")
    assert plain.SpecificCharacterSet == "ISO_IR 192"
    assert str(plain.PatientName.ideographic) == "张^三"


def test_ascii_only_modality_gets_pinyin(
    core: RunningCore, scheduled: dict[str, str], tmp_path: Path
) -> None:
    (answer,) = _worklist(
        core,
        tmp_path / "dr",
        "DR01",
        "SpecificCharacterSet=GB18030",
        f"{STEP}.ScheduledStationAETitle=DR01",
    )
    assert str(answer.PatientName) == "LI^SI"
    assert "SpecificCharacterSet" not in answer
    assert answer.AccessionNumber == scheduled["dr"]
    assert answer.ScheduledProcedureStepSequence[0].Modality == "DX"
    # The exam item in English, every value ASCII.
    assert answer.RequestedProcedureDescription == "Chest X-ray PA"
    assert all(str(e.value).isascii() for e in answer.iterall() if isinstance(e.value, str | bytes))


def test_matching_and_access(core: RunningCore, scheduled: dict[str, str], tmp_path: Path) -> None:
    found = _worklist(core, tmp_path / "all", "CT01")
    assert sorted(a.AccessionNumber for a in found) == sorted([scheduled["ct"], scheduled["dr"]])
    assert _worklist(core, tmp_path / "mr", "CT01", f"{STEP}.Modality=MR") == []
    assert (
        _worklist(
            core, tmp_path / "old", "CT01", f"{STEP}.ScheduledProcedureStepStartDate=20000101"
        )
        == []
    )
    (by_name,) = _worklist(core, tmp_path / "name", "CT01", "PatientName=LI*")
    assert by_name.PatientID == "P2"
    # An unregistered AE may not query the worklist.
    folder = tmp_path / "stranger"
    folder.mkdir()
    result = dcmtk(
        "findscu",
        "-v",
        "-W",
        "-X",
        "-od",
        str(folder),
        "-aet",
        "STRANGER",
        "-k",
        "PatientName",
        *peer(core),
        check=False,
    )
    assert not list(folder.glob("rsp*.dcm"))
    assert "Status: 0x124" in result.stderr + result.stdout


def _steps_query(charset: str, *, every_key: bool) -> Dataset:
    ds = Dataset()
    ds.SpecificCharacterSet = charset
    for keyword in ("PatientName", "PatientID", "PatientBirthDate", "PatientSex",
                    "AccessionNumber", "StudyInstanceUID", "RequestedProcedureDescription",
                    "ReferringPhysicianName"):  # fmt: skip
        setattr(ds, keyword, "")
    ds.RequestedProcedureCodeSequence = Sequence([Dataset()])  # every key of the code
    step = Dataset()
    if not every_key:
        step.ScheduledStationAETitle = "CT01"
        step.Modality = ""
        step.ScheduledProcedureStepStartDate = ""
        step.ScheduledProcedureStepDescription = ""
        code = Dataset()
        code.CodeValue = code.CodeMeaning = ""
        step.ScheduledProtocolCodeSequence = Sequence([code])
    ds.ScheduledProcedureStepSequence = Sequence([step])
    return ds


def _find(core: RunningCore, identifier: Dataset, *, with_mpps: bool) -> list[bytes]:
    """The answers, re-encoded (explicit VR): one association proposing the worklist alone
    (the direct path), or the worklist and MPPS (pynetdicom's path)."""
    ae = client_ae("CT01")
    ae.add_requested_context(ModalityWorklistInformationFind)
    if with_mpps:
        ae.add_requested_context(ModalityPerformedProcedureStep)
    assoc = associate(ae, core)
    try:
        found = [
            encode(answer, False, True)
            for status, answer in assoc.send_c_find(identifier, ModalityWorklistInformationFind)
            if status.Status == 0xFF00
        ]
    finally:
        assoc.release()
        ae.shutdown()
    return found


@pytest.mark.parametrize("charset", ["GB18030", "ISO_IR 192"])
def test_both_paths_answer_the_same(
    core: RunningCore,
    scheduled: dict[str, str],
    charset: str,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The direct path (answers encoded by :mod:`answers`, sequences included) and
    pynetdicom's (pydicom's writer) answer the same data sets, in the query's character set."""
    served: list[str] = []
    original = direct.DirectAssociation.serve

    def spy(self: direct.DirectAssociation) -> None:
        served.append(self.calling)
        original(self)

    monkeypatch.setattr(direct.DirectAssociation, "serve", spy)
    for every_key in (False, True):
        query = _steps_query(charset, every_key=every_key)
        fast = _find(core, query, with_mpps=False)
        assert served and len(fast) == (1 if not every_key else 2)
        served.clear()
        assert fast == _find(core, query, with_mpps=True)
        assert not served  # MPPS proposed: pynetdicom's path
    (raw,) = _find(core, _steps_query(charset, every_key=False), with_mpps=False)
    answer = decode(BytesIO(raw), False, True)
    assert answer.SpecificCharacterSet == charset
    assert str(answer.PatientName.ideographic) == "张^三"
    step = answer.ScheduledProcedureStepSequence[0]
    assert step.Modality == "CT"
    assert step.ScheduledProtocolCodeSequence[0].CodeValue == "CT-CHEST"
    assert answer.RequestedProcedureCodeSequence[0].CodingSchemeDesignator
