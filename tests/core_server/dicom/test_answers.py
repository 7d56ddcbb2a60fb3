"""C-FIND answers written by hand are byte for byte what pydicom writes, or left to it."""

from __future__ import annotations

from typing import Any

import pytest
from pydicom import Dataset
from pydicom.dataelem import DataElement
from pydicom.sequence import Sequence
from pynetdicom.dsutils import encode

from core_server.dicom import answers


def _study_answer(charset: str | None, name: str, description: str) -> Dataset:
    ds = Dataset()
    if charset:
        ds.SpecificCharacterSet = charset
    ds.QueryRetrieveLevel = "STUDY"
    ds.RetrieveAETitle = "PACS"
    ds.PatientName = name
    ds.PatientID = "P001"
    ds.PatientBirthDate = "19800101"
    ds.PatientSex = "M"
    ds.StudyInstanceUID = "1.2.840.113619.2.55.3.604688119.971"  # odd length: NUL padded
    ds.StudyDate = "20261128"
    ds.StudyTime = "083000.5"
    ds.AccessionNumber = ""
    ds.StudyDescription = description
    ds.ReferringPhysicianName = None
    ds.ModalitiesInStudy = ["CT", "MR"]
    ds.NumberOfStudyRelatedSeries = 3
    ds.NumberOfStudyRelatedInstances = 301
    ds.add(DataElement(0x00081032, "SQ", Sequence()))  # ProcedureCodeSequence, empty
    ds.add(DataElement(0x00280010, "US", 512))  # Rows
    ds.InstanceAvailability = "ONLINE"
    return ds


CASES = [
    (None, "WANG^XIAOMING", "CT CHEST"),
    ("ISO_IR 192", "Wang^XiaoMing=王^小明=wang^xiao ming", "胸部 CT 平扫"),
    ("GB18030", "Zhang^San=张^三", "头颅 MR"),
    ("GBK", "Li^Si=李^四", "腹部"),
    ("ISO_IR 100", "Müller^Jörg", "Thorax"),
]


def _answer_of(ds: Dataset) -> answers.Answer:
    """The archive's form of an answer data set: its elements, in any order, and its charset."""
    charset = ds.get("SpecificCharacterSet")
    return answers.Answer(
        elements=[
            (int(e.tag), str(e.VR), None if e.VR == "SQ" else e.value)
            for e in ds.values()
            if e.keyword != "SpecificCharacterSet"
        ][::-1],
        charset=[] if not charset else [charset] if isinstance(charset, str) else list(charset),
    )


@pytest.mark.parametrize("implicit", [True, False])
@pytest.mark.parametrize(("charset", "name", "description"), CASES)
def test_same_bytes_as_pydicom(
    implicit: bool, charset: str | None, name: str, description: str
) -> None:
    """What the archive answers (an :class:`answers.Answer`) encodes to the bytes pydicom
    writes for the same data set, and converts to that data set for pynetdicom."""
    ds = _study_answer(charset, name, description)
    answer = _answer_of(ds)
    assert answers.encode(answer, implicit) == encode(ds, implicit, True)
    assert encode(answer.dataset(), implicit, True) == encode(ds, implicit, True)


def test_iso_2022_and_binary_values_are_left_to_pydicom() -> None:
    ds = _study_answer("\\ISO 2022 IR 58", "Zhang^San=张^三", "")
    ds.SpecificCharacterSet = ["", "ISO 2022 IR 58"]
    assert answers.encode(_answer_of(ds), True) is None
    binary = _study_answer(None, "A^B", "")
    binary.add(DataElement(0x7FE00010, "OB", b"\x00\x01"))
    assert answers.encode(_answer_of(binary), False) is None
    not_ascii = _study_answer(None, "张^三", "")  # no character set given for a Chinese name
    assert answers.encode(_answer_of(not_ascii), True) is None


def _items(sequence: Any) -> list[list[tuple[int, str, object]]]:
    return [
        [
            (int(e.tag), str(e.VR), _items(e.value) if e.VR == "SQ" else e.value)
            for e in item.values()
        ]
        for item in sequence
    ]


@pytest.mark.parametrize("implicit", [True, False])
@pytest.mark.parametrize("charset", [None, "GB18030", "ISO_IR 192"])
def test_sequences_same_bytes_as_pydicom(implicit: bool, charset: str | None) -> None:
    """A worklist answer's nested items (a step with its protocol code) and an empty
    sequence: the bytes pydicom writes (defined lengths), and the same data set for it."""
    ds = _study_answer(charset, "Zhang^San=张^三" if charset else "ZHANG^SAN", "")
    code = Dataset()
    code.CodeValue = "CT-CHEST"
    code.CodeMeaning = "胸部 CT" if charset else "CT CHEST"
    step = Dataset()
    step.Modality = "CT"
    step.ScheduledStationAETitle = "CT01"
    step.ScheduledPerformingPhysicianName = None
    step.ScheduledProtocolCodeSequence = Sequence([code])
    ds.ScheduledProcedureStepSequence = Sequence([step, Dataset()])
    answer = _answer_of(ds)
    answer.elements = [
        (tag, vr, _items(ds[tag].value) if vr == "SQ" and len(ds[tag].value) else value)
        for tag, vr, value in answer.elements
    ]
    expected = encode(ds, implicit, True)
    assert answers.encode(answer, implicit) == expected
    assert encode(answer.dataset(), implicit, True) == expected
