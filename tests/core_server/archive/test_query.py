"""C-FIND/QIDO matching against the index, on SQLite and PostgreSQL."""

from __future__ import annotations

from pathlib import Path

import pytest
from pydicom.uid import generate_uid

from core_server import db
from core_server.archive import Archive, Origin
from core_server.archive.query import DERIVED
from tests.dicom_data import encode, make_ct


@pytest.fixture
def archive(tmp_path: Path, database_url: str) -> Archive:
    engine = db.make_engine(database_url)
    db.migrate(engine)
    archive = Archive(engine, tmp_path / "storage")
    study_a, study_b, study_c = generate_uid(), generate_uid(), generate_uid()
    series_a2 = generate_uid()
    objects = [
        make_ct(
            patient_id="P1",
            patient_name="Zhang^San=张^三=zhang^san",
            study_uid=study_a,
            study_date="20260101",
            study_time="081500",
            accession="ACC1",
            charset="ISO_IR 192",
        ),
        make_ct(
            patient_id="P1",
            patient_name="Zhang^San=张^三=zhang^san",
            study_uid=study_a,
            series_uid=series_a2,
            modality="MR",
            accession="ACC1",
            charset="ISO_IR 192",
        ),
        make_ct(
            patient_id="P1",
            patient_name="Zhang^San=张^三=zhang^san",
            study_uid=study_a,
            series_uid=series_a2,
            modality="MR",
            instance_number=2,
            accession="ACC1",
            charset="ISO_IR 192",
        ),
        make_ct(
            patient_id="P2",
            patient_name="Li^Si=李^四",
            study_uid=study_b,
            study_date="20260315",
            study_time="140000.25",
            accession="ACC2",
            charset="GB18030",
        ),
        make_ct(
            patient_id="P3",
            patient_name="ZHANGWEI^MING",
            study_uid=study_c,
            study_date="20261231",
            study_time="230000",
            accession="X_1%",
        ),
    ]
    for ds in objects:
        archive.store_instance(encode(ds), Origin("test"))
    archive.uids = (study_a, study_b, study_c)  # type: ignore[attr-defined]
    return archive


def ids(archive: Archive, level: str, **keys: str) -> list[str]:
    return sorted({a["PatientID"] for a in archive.find(level, keys)})


def test_universal_and_single_value(archive: Archive) -> None:
    assert ids(archive, "STUDY") == ["P1", "P2", "P3"]
    assert ids(archive, "STUDY", PatientID="P2") == ["P2"]
    assert ids(archive, "STUDY", AccessionNumber="ACC1") == ["P1"]
    assert ids(archive, "STUDY", AccessionNumber="acc1") == []  # not a person name: exact case


def test_wildcards_escape_sql_patterns(archive: Archive) -> None:
    assert ids(archive, "STUDY", AccessionNumber="ACC*") == ["P1", "P2"]
    assert ids(archive, "STUDY", AccessionNumber="ACC?") == ["P1", "P2"]
    assert ids(archive, "STUDY", AccessionNumber="X_1%") == ["P3"]
    assert ids(archive, "STUDY", AccessionNumber="X%*") == []  # % is a literal, not a wildcard
    assert ids(archive, "STUDY", AccessionNumber="*") == ["P1", "P2", "P3"]


def test_person_names_case_insensitive_on_every_group(archive: Archive) -> None:
    assert ids(archive, "PATIENT", PatientName="zhang^san") == ["P1"]
    assert ids(archive, "PATIENT", PatientName="ZHANG*") == ["P1", "P3"]
    assert ids(archive, "PATIENT", PatientName="张*") == ["P1"]
    assert ids(archive, "PATIENT", PatientName="李^四") == ["P2"]
    assert ids(archive, "PATIENT", PatientName="Zhang^San^^^") == ["P1"]
    assert ids(archive, "PATIENT", PatientName="=张^三") == ["P1"]
    assert ids(archive, "PATIENT", PatientName="Li*=张*") == []
    assert ids(archive, "PATIENT", PatientName="zhang") == []  # single value: whole name


def test_date_and_time_ranges(archive: Archive) -> None:
    assert ids(archive, "STUDY", StudyDate="20260101-20260331") == ["P1", "P2"]
    assert ids(archive, "STUDY", StudyDate="20260316-") == ["P3"]
    assert ids(archive, "STUDY", StudyDate="-20260101") == ["P1"]
    assert ids(archive, "STUDY", StudyDate="20261231") == ["P3"]
    assert ids(archive, "STUDY", StudyTime="1400-1400") == ["P2"]
    assert ids(archive, "STUDY", StudyTime="080000-090000") == ["P1"]


def test_uid_lists_and_levels(archive: Archive) -> None:
    study_a, study_b, _ = archive.uids  # type: ignore[attr-defined]
    assert ids(archive, "STUDY", StudyInstanceUID=f"{study_a}\\{study_b}") == ["P1", "P2"]
    series = list(archive.find("SERIES", {"StudyInstanceUID": study_a}))
    assert sorted(s["Modality"] for s in series) == ["CT", "MR"]
    images = list(archive.find("IMAGE", {"StudyInstanceUID": study_a, "Modality": "MR"}))
    assert sorted(i["InstanceNumber"] for i in images) == [1, 2]


def test_derived_attributes(archive: Archive) -> None:
    study_a = archive.uids[0]  # type: ignore[attr-defined]
    (study,) = archive.find(
        "STUDY",
        {
            "StudyInstanceUID": study_a,
            "ModalitiesInStudy": "",
            "NumberOfStudyRelatedSeries": "",
            "NumberOfStudyRelatedInstances": "",
        },
    )
    assert study["ModalitiesInStudy"] == ["CT", "MR"]
    assert study["NumberOfStudyRelatedSeries"] == 2
    assert study["NumberOfStudyRelatedInstances"] == 3
    assert ids(archive, "STUDY", ModalitiesInStudy="MR") == ["P1"]
    assert ids(archive, "STUDY", ModalitiesInStudy="MR\\CT") == ["P1", "P2", "P3"]
    (patient,) = archive.find("PATIENT", {"PatientID": "P1", "NumberOfPatientRelatedInstances": ""})
    assert patient["NumberOfPatientRelatedInstances"] == 3
    # every derived key of every level at once, several owners in one batch
    keys = dict.fromkeys(DERIVED, "")
    patients = {a["PatientID"]: a for a in archive.find("PATIENT", keys)}
    assert {
        p: (
            a["NumberOfPatientRelatedStudies"],
            a["NumberOfPatientRelatedSeries"],
            a["NumberOfPatientRelatedInstances"],
        )
        for p, a in patients.items()
    } == {"P1": (1, 2, 3), "P2": (1, 1, 1), "P3": (1, 1, 1)}
    series = sorted(
        (a["PatientID"], a["Modality"], a["ModalitiesInStudy"], a["NumberOfSeriesRelatedInstances"])
        for a in archive.find("SERIES", keys)
    )
    assert series == [
        ("P1", "CT", ["CT", "MR"], 1),
        ("P1", "MR", ["CT", "MR"], 2),
        ("P2", "CT", ["CT"], 1),
        ("P3", "CT", ["CT"], 1),
    ]


def test_limit_offset_and_count(archive: Archive) -> None:
    assert archive.count("STUDY", {}) == 3
    first = [a["PatientID"] for a in archive.find("STUDY", {}, limit=2)]
    rest = [a["PatientID"] for a in archive.find("STUDY", {}, limit=2, offset=2)]
    assert len(first) == 2 and len(rest) == 1
    assert sorted(first + rest) == ["P1", "P2", "P3"]
