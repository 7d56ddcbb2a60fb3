"""C-FIND with findscu against a running core: Patient and Study Root at every level, the
matching kinds of PS3.4 C.2.2.2, derived keys, and the Specific Character Set of answers."""

from __future__ import annotations

import tempfile
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest
from pydicom import Dataset, dcmread
from pydicom.dataset import FileMetaDataset
from pydicom.uid import ExplicitVRLittleEndian, generate_uid

from tests.conftest import RunningCore
from tests.core_server.dicom.clients import PATHS, core_on_path, dcmtk, keys, peer
from tests.dicom_data import make_ct, write

STUDY_ROOT_FIND = "1.2.840.10008.5.1.4.1.2.2.1"


@pytest.fixture(params=PATHS)
def core(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[RunningCore]:
    """Every test of this module on both paths that serve associations (direct, pynetdicom)."""
    yield from core_on_path(request.param, tmp_path)


def findscu(
    core: RunningCore,
    tmp_path: Path,
    model: str,
    level: str,
    *query_files: Path,
    **identifier: str,
) -> list[Dataset]:
    """One C-FIND; the answers as findscu extracts them (-X), read back with pydicom."""
    folder = Path(tempfile.mkdtemp(dir=tmp_path, prefix="find-"))
    args = [model, "-X", "-od", folder, *keys(QueryRetrieveLevel=level, **identifier)]
    dcmtk("findscu", *args, *peer(core), *query_files)
    return [dcmread(path) for path in sorted(folder.glob("rsp*.dcm"))]


def values(answers: list[Dataset], keyword: str) -> list[str]:
    return sorted(str(a.get(keyword, "")) for a in answers)


@dataclass
class Archive:
    """What the C-FIND tests stored: three patients, four studies, six series, seven images."""

    study: dict[str, str] = field(default_factory=dict)
    series: dict[str, str] = field(default_factory=dict)
    image: dict[str, str] = field(default_factory=dict)


def fill(core: RunningCore, folder: Path) -> Archive:
    uids = Archive()
    for name in ("S1", "S2", "S3", "S4"):
        uids.study[name] = generate_uid()
    for name in ("S1-CT", "S1-MR", "S2-CT", "S3-US", "S4-DX"):
        uids.series[name] = generate_uid()
    for name in ("S1-CT-1", "S1-CT-2", "S1-MR-1", "S2-CT-1", "S3-US-1", "S4-DX-1"):
        uids.image[name] = generate_uid()
    patients = {
        "S1": ("P1", "Zhang^San", "20260101", "081500", "ACC1", "CHEST"),
        "S2": ("P2", "Li^Si", "20260315", "140000.25", "ACC2", "HEAD"),
        "S3": ("P3", "ZHANGWEI^MING", "20261231", "230000", "ACC3", "ABDOMEN"),
        "S4": ("P3", "ZHANGWEI^MING", "20250601", "120000", "ACC4", "HAND"),
    }
    paths = []
    for image, sop_uid in uids.image.items():
        study, modality, number = image.split("-")
        patient_id, name, date, time, accession, description = patients[study]
        ds = make_ct(
            patient_id=patient_id,
            patient_name=name,
            study_uid=uids.study[study],
            series_uid=uids.series[f"{study}-{modality}"],
            sop_uid=sop_uid,
            study_date=date,
            study_time=time,
            accession=accession,
            modality=modality,
            instance_number=int(number),
            StudyDescription=description,
            SeriesNumber=2 if modality == "MR" else 1,
        )
        paths.append(write(ds, folder))
    dcmtk("storescu", *peer(core), *paths)
    core.register("FINDSCU", allow_query=True)
    return uids


def test_find_at_every_level(core_on: RunningCore, tmp_path: Path) -> None:
    core = core_on
    uids = fill(core, tmp_path / "objects")
    study = {v: k for k, v in uids.study.items()}  # uid -> S1...
    series = {v: k for k, v in uids.series.items()}
    image = {v: k for k, v in uids.image.items()}

    def find(model: str, level: str, **identifier: str) -> list[Dataset]:
        return findscu(core, tmp_path, model, level, **identifier)

    def patients(**identifier: str) -> list[str]:
        return values(find("-P", "PATIENT", **{"PatientID": "", **identifier}), "PatientID")

    def studies(**identifier: str) -> list[str]:
        answers = find("-S", "STUDY", **{"StudyInstanceUID": "", **identifier})
        return sorted(study[a.StudyInstanceUID] for a in answers)

    # -- Patient Root, PATIENT level
    answers = find("-P", "PATIENT", PatientID="", PatientName="", PatientBirthDate="")
    assert values(answers, "PatientID") == ["P1", "P2", "P3"]
    assert {str(a.PatientName) for a in answers} == {"Zhang^San", "Li^Si", "ZHANGWEI^MING"}
    assert {a.PatientBirthDate for a in answers} == {"19800101"}
    assert {a.QueryRetrieveLevel for a in answers} == {"PATIENT"}
    assert {a.RetrieveAETitle for a in answers} == {core.ae_title}
    assert patients(PatientID="P2") == ["P2"]
    assert patients(PatientID="P*") == ["P1", "P2", "P3"]
    assert patients(PatientBirthDate="19790101-19801231") == ["P1", "P2", "P3"]
    assert patients(PatientBirthDate="19810101-") == []
    # person names: case-insensitive, * and ? wildcards
    assert patients(PatientName="zhang^san") == ["P1"]
    assert patients(PatientName="zhang*") == ["P1", "P3"]
    assert patients(PatientName="?I^s?") == ["P2"]
    assert patients(PatientName="wang*") == []
    counted = find(
        "-P",
        "PATIENT",
        PatientID="",
        NumberOfPatientRelatedStudies="",
        NumberOfPatientRelatedSeries="",
        NumberOfPatientRelatedInstances="",
    )
    assert {
        a.PatientID: (
            a.NumberOfPatientRelatedStudies,
            a.NumberOfPatientRelatedSeries,
            a.NumberOfPatientRelatedInstances,
        )
        for a in counted
    } == {"P1": (1, 2, 3), "P2": (1, 1, 1), "P3": (2, 2, 2)}

    # -- Patient Root, lower levels (the unique key of each level above is given)
    answers = find("-P", "STUDY", PatientID="P3", StudyInstanceUID="", StudyDate="")
    assert sorted(study[a.StudyInstanceUID] for a in answers) == ["S3", "S4"]
    answers = find(
        "-P",
        "SERIES",
        PatientID="P1",
        StudyInstanceUID=uids.study["S1"],
        SeriesInstanceUID="",
        Modality="",
        SeriesNumber="",
    )
    assert sorted((series[a.SeriesInstanceUID], a.Modality, a.SeriesNumber) for a in answers) == [
        ("S1-CT", "CT", 1),
        ("S1-MR", "MR", 2),
    ]
    answers = find(
        "-P",
        "IMAGE",
        PatientID="P1",
        StudyInstanceUID=uids.study["S1"],
        SeriesInstanceUID=uids.series["S1-CT"],
        SOPInstanceUID="",
        InstanceNumber="",
        SOPClassUID="",
    )
    assert sorted((image[a.SOPInstanceUID], a.InstanceNumber) for a in answers) == [
        ("S1-CT-1", 1),
        ("S1-CT-2", 2),
    ]
    assert {a.SOPClassUID for a in answers} == {"1.2.840.10008.5.1.4.1.1.2"}

    # -- Study Root, STUDY level
    assert studies() == ["S1", "S2", "S3", "S4"]
    assert studies(AccessionNumber="ACC2") == ["S2"]
    assert studies(AccessionNumber="ACC?") == ["S1", "S2", "S3", "S4"]
    assert studies(StudyDescription="*A*") == ["S2", "S3", "S4"]
    assert studies(StudyDate="20260315") == ["S2"]
    assert studies(StudyDate="20260101-20260331") == ["S1", "S2"]
    assert studies(StudyDate="-20251231") == ["S4"]
    assert studies(StudyDate="20261201-") == ["S3"]
    assert studies(StudyTime="1200-2359") == ["S2", "S3", "S4"]
    assert studies(StudyTime="-0900") == ["S1"]
    assert studies(StudyTime="140000.25") == ["S2"]
    assert studies(StudyDate="20260101-20261231", StudyTime="1300-") == ["S2", "S3"]
    both = f"{uids.study['S1']}\\{uids.study['S3']}"
    assert studies(StudyInstanceUID=both) == ["S1", "S3"]
    assert studies(PatientName="ZHANGWEI^MING") == ["S3", "S4"]
    assert studies(PatientName="zhang*", PatientID="P1") == ["S1"]
    assert studies(ModalitiesInStudy="MR") == ["S1"]
    assert studies(ModalitiesInStudy="CT\\US") == ["S1", "S2", "S3"]
    answers = find(
        "-S",
        "STUDY",
        StudyInstanceUID=uids.study["S1"],
        ModalitiesInStudy="",
        NumberOfStudyRelatedSeries="",
        NumberOfStudyRelatedInstances="",
        StudyDescription="",
        PatientName="",
        PatientID="",
        StudyDate="",
        StudyTime="",
        AccessionNumber="",
    )
    (answer,) = answers
    assert list(answer.ModalitiesInStudy) == ["CT", "MR"]
    assert (answer.NumberOfStudyRelatedSeries, answer.NumberOfStudyRelatedInstances) == (2, 3)
    assert (answer.StudyDescription, answer.PatientID, str(answer.PatientName)) == (
        "CHEST",
        "P1",
        "Zhang^San",
    )
    assert (answer.StudyDate, answer.StudyTime, answer.AccessionNumber) == (
        "20260101",
        "081500",
        "ACC1",
    )

    # -- Study Root, SERIES and IMAGE levels
    answers = find(
        "-S",
        "SERIES",
        StudyInstanceUID=uids.study["S1"],
        SeriesInstanceUID="",
        Modality="",
        NumberOfSeriesRelatedInstances="",
    )
    assert sorted(
        (series[a.SeriesInstanceUID], a.Modality, a.NumberOfSeriesRelatedInstances) for a in answers
    ) == [("S1-CT", "CT", 2), ("S1-MR", "MR", 1)]
    assert {a.QueryRetrieveLevel for a in answers} == {"SERIES"}
    answers = find(
        "-S", "SERIES", StudyInstanceUID=uids.study["S1"], SeriesInstanceUID="", Modality="M?"
    )
    assert [series[a.SeriesInstanceUID] for a in answers] == ["S1-MR"]
    answers = find("-S", "SERIES", StudyInstanceUID="", SeriesInstanceUID="", Modality="CT")
    assert sorted(series[a.SeriesInstanceUID] for a in answers) == ["S1-CT", "S2-CT"]

    answers = find(
        "-S",
        "IMAGE",
        StudyInstanceUID=uids.study["S1"],
        SeriesInstanceUID=uids.series["S1-CT"],
        SOPInstanceUID="",
        InstanceNumber="2",
    )
    assert [image[a.SOPInstanceUID] for a in answers] == ["S1-CT-2"]
    assert answers[0].QueryRetrieveLevel == "IMAGE"
    listed = f"{uids.image['S1-CT-1']}\\{uids.image['S2-CT-1']}\\{generate_uid()}"
    answers = find(
        "-S",
        "IMAGE",
        StudyInstanceUID="",
        SeriesInstanceUID="",
        SOPInstanceUID=listed,
    )
    assert sorted(image[a.SOPInstanceUID] for a in answers) == ["S1-CT-1", "S2-CT-1"]
    answers = find("-S", "IMAGE", StudyInstanceUID=uids.study["S1"], SOPInstanceUID="")
    assert sorted(image[a.SOPInstanceUID] for a in answers) == ["S1-CT-1", "S1-CT-2", "S1-MR-1"]


def test_unknown_level_is_refused(core: RunningCore, tmp_path: Path) -> None:
    fill(core, tmp_path / "objects")
    result = dcmtk(
        "findscu", "-v", "-S", *keys(QueryRetrieveLevel="FRAME", PatientID=""), *peer(core)
    )
    assert "Received Final Find Response (Error: DataSetDoesNotMatchSOPClass)" in result.stderr


# -- Specific Character Set --------------------------------------------------------------------

IR58 = ["", "ISO 2022 IR 58"]
STORED = [
    # patient ID, name, Specific Character Set of the stored object
    ("C-GB18030", "张^三", "GB18030"),
    ("C-UTF8", "王^五", "ISO_IR 192"),
    ("C-GBK", "李^四", "GBK"),
    ("C-IR58", "赵^六", IR58),
    ("C-RONG", "朱^镕基", "ISO_IR 192"),  # 镕 is not in GB 2312
    ("C-THREE", "Zhou^Qi=周^七=zhou^qi", "GB18030"),
    ("C-LATIN", "Smith^John", None),
]
# GB 2312 with code extensions, written out as PS3.5 Annex K.2 does (G1 designated by
# ESC $ ) A after each delimiter), so that the test does not depend on pydicom's encoder
ESC_GB2312 = b"\x1b$)A"
IR58_BYTES = {
    "赵^六": ESC_GB2312 + "赵".encode("gb2312") + b"^" + ESC_GB2312 + "六".encode("gb2312"),
    "赵*": ESC_GB2312 + "赵".encode("gb2312") + b"*",
    "朱*": ESC_GB2312 + "朱".encode("gb2312") + b"*",
    "胸部平扫": ESC_GB2312 + "胸部平扫".encode("gb2312"),
}


def encoded(value: str, charset: str | list[str] | None) -> str | bytes:
    """The value as a data set should hold it: ISO 2022 IR 58 values as their exact bytes."""
    return IR58_BYTES[value] if charset == IR58 and value in IR58_BYTES else value


def raw_value(answer: Dataset, keyword: str) -> bytes:
    """An element's bytes as they came (trailing padding dropped), before pydicom decodes."""
    element = answer.get_item(keyword)
    return bytes(element.value).rstrip(b" ")


def query_file(folder: Path, charset: str | list[str] | None, **attributes: str) -> Path:
    """A findscu query file written by pydicom in the chosen character set."""
    ds = Dataset()
    ds.file_meta = FileMetaDataset()
    ds.file_meta.TransferSyntaxUID = ExplicitVRLittleEndian
    ds.file_meta.MediaStorageSOPClassUID = STUDY_ROOT_FIND
    ds.file_meta.MediaStorageSOPInstanceUID = generate_uid()
    if charset is not None:
        ds.SpecificCharacterSet = charset
    ds.QueryRetrieveLevel = "PATIENT"
    for keyword, value in attributes.items():
        setattr(ds, keyword, encoded(value, charset))
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"query-{generate_uid()}.dcm"
    ds.save_as(path, enforce_file_format=True)
    return path


def charset_of(answer: Dataset) -> list[str]:
    value = answer.get("SpecificCharacterSet")
    if not value:
        return []
    return [value] if isinstance(value, str) else list(value)


@pytest.fixture(scope="module")
def chinese_names(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningCore]:
    """One core (SQLite) for the character set tests, holding the names of STORED."""
    tmp_path = tmp_path_factory.mktemp("charsets")
    core = RunningCore(tmp_path / "data").start()
    paths = []
    for patient_id, name, charset in STORED:
        ds = make_ct(patient_id=patient_id, charset=charset)
        ds.PatientName = encoded(name, charset)
        ds.StudyDescription = encoded("胸部平扫", charset) if charset else "CHEST"
        paths.append(write(ds, tmp_path / "objects"))
    try:
        dcmtk("storescu", *peer(core), *paths)
        core.register("FINDSCU", allow_query=True)
        yield core
    finally:
        core.stop()


@pytest.mark.parametrize(
    ("charset", "name", "patient_id", "expected_name", "answer_charset"),
    [
        ("GB18030", "张*", "C-GB18030", "张^三", ["GB18030"]),
        ("GB18030", "张^三", "C-GB18030", "张^三", ["GB18030"]),
        ("ISO_IR 192", "王*", "C-UTF8", "王^五", ["ISO_IR 192"]),
        ("GBK", "李*", "C-GBK", "李^四", ["GBK"]),
        (IR58, "赵*", "C-IR58", "赵^六", IR58),
        # GB 2312 cannot carry 镕: the answer comes in UTF-8
        (IR58, "朱*", "C-RONG", "朱^镕基", ["ISO_IR 192"]),
        # a name stored in ISO 2022 IR 58, asked for in GB18030 and UTF-8
        ("GB18030", "赵*", "C-IR58", "赵^六", ["GB18030"]),
        ("ISO_IR 192", "赵*", "C-IR58", "赵^六", ["ISO_IR 192"]),
        # a name stored in GB18030, asked for in UTF-8, and the other way round
        ("ISO_IR 192", "张*", "C-GB18030", "张^三", ["ISO_IR 192"]),
        ("GB18030", "朱*", "C-RONG", "朱^镕基", ["GB18030"]),
        ("GB18030", "周*", "C-THREE", "Zhou^Qi=周^七=zhou^qi", ["GB18030"]),
    ],
    ids=lambda v: str(v),
)
def test_answer_in_the_query_character_set(
    chinese_names: RunningCore,
    tmp_path: Path,
    charset: str | list[str],
    name: str,
    patient_id: str,
    expected_name: str,
    answer_charset: list[str],
) -> None:
    query = query_file(tmp_path / "q", charset, PatientName=name, PatientID="")
    (answer,) = findscu(chinese_names, tmp_path, "-S", "PATIENT", query)
    if answer_charset == IR58:  # the bytes, as a receiver other than pydicom sees them
        assert raw_value(answer, "PatientName") == IR58_BYTES[expected_name]
    assert answer.PatientID == patient_id
    assert str(answer.PatientName) == expected_name
    assert charset_of(answer) == answer_charset


def test_universal_query_decodes_every_name(chinese_names: RunningCore, tmp_path: Path) -> None:
    query = query_file(tmp_path / "q", "GB18030", PatientName="", PatientID="")
    answers = findscu(chinese_names, tmp_path, "-S", "PATIENT", query)
    assert {a.PatientID: str(a.PatientName) for a in answers} == {
        patient_id: name for patient_id, name, _ in STORED
    }
    # GB18030 carries every one of them, so every answer is in the query's set
    assert {tuple(charset_of(a)) for a in answers} == {("GB18030",)}


def test_study_level_chinese_description(chinese_names: RunningCore, tmp_path: Path) -> None:
    query = query_file(
        tmp_path / "q",
        IR58,
        QueryRetrieveLevel="STUDY",
        PatientName="赵*",
        StudyInstanceUID="",
        StudyDescription="",
    )
    (answer,) = findscu(chinese_names, tmp_path, "-S", "STUDY", query)
    assert raw_value(answer, "PatientName") == IR58_BYTES["赵^六"]
    assert raw_value(answer, "StudyDescription") == IR58_BYTES["胸部平扫"]
    assert (str(answer.PatientName), answer.StudyDescription) == ("赵^六", "胸部平扫")
    assert charset_of(answer) == IR58


def test_answer_charset_looks_at_the_returned_values_only(
    chinese_names: RunningCore, tmp_path: Path
) -> None:
    # 朱镕基 cannot be written in GB 2312, but it is not asked for: no reason to leave the
    # query's character set
    query = query_file(tmp_path / "q", IR58, PatientID="C-RONG", PatientBirthDate="")
    (answer,) = findscu(chinese_names, tmp_path, "-S", "PATIENT", query)
    assert (answer.PatientID, answer.PatientBirthDate) == ("C-RONG", "19800101")
    assert "PatientName" not in answer
    assert charset_of(answer) == IR58
    (answer,) = findscu(chinese_names, tmp_path, "-S", "PATIENT", PatientID="C-GBK")
    assert charset_of(answer) == []


def test_query_without_charset_gets_utf8_for_chinese(
    chinese_names: RunningCore, tmp_path: Path
) -> None:
    # the alphabetic group matches; the answer holds ideographic characters too
    (answer,) = findscu(chinese_names, tmp_path, "-S", "PATIENT", PatientName="zhou^qi")
    assert str(answer.PatientName) == "Zhou^Qi=周^七=zhou^qi"
    assert charset_of(answer) == ["ISO_IR 192"]
    (answer,) = findscu(chinese_names, tmp_path, "-S", "PATIENT", PatientID="C-GBK", PatientName="")
    assert str(answer.PatientName) == "李^四"
    assert charset_of(answer) == ["ISO_IR 192"]
    # nothing to declare for a plain ASCII answer
    (answer,) = findscu(
        chinese_names, tmp_path, "-S", "PATIENT", PatientID="C-LATIN", PatientName=""
    )
    assert str(answer.PatientName) == "Smith^John"
    assert charset_of(answer) == []
