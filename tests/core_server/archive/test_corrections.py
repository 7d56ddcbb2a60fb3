"""Corrections of stored objects (IHE PIR / PGP): renames, patient merges, reconciliation,
study split and merge; new files as versions, the index switched, refusals that change nothing,
a crash in the middle, and what C-FIND and C-GET answer afterwards."""

from __future__ import annotations

import tempfile
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from pydicom import Dataset, dcmread
from pydicom.uid import generate_uid
from sqlalchemy import select

from core_server import db
from core_server.archive import Archive, CorrectionError, Origin, correction_plan, corrections
from core_server.archive import tables as t
from tests.conftest import RunningCore
from tests.core_server.dicom.clients import dcmtk, getscu, keys, peer
from tests.dicom_data import encode, make_ct, testdata

ORIGIN = Origin("test", "CT01")


@pytest.fixture
def archive(tmp_path: Path, database_url: str) -> Archive:
    engine = db.make_engine(database_url)
    db.migrate(engine)
    return Archive(engine, tmp_path / "storage")


@pytest.fixture
def file_archive(tmp_path: Path) -> Archive:
    """SQLite only, for what concerns the files rather than the database."""
    engine = db.make_engine(f"sqlite:///{tmp_path / 'core.db'}")
    db.migrate(engine)
    return Archive(engine, tmp_path / "storage")


def store(archive: Archive, ds: Dataset) -> Dataset:
    archive.store_instance(encode(ds), ORIGIN)
    return ds


def study_of(
    archive: Archive,
    *,
    series: int = 1,
    images: int = 2,
    study_uid: str | None = None,
    **attributes: Any,
) -> list[Dataset]:
    """A stored study: ``series`` series of ``images`` images each."""
    study_uid = study_uid or generate_uid()
    stored = []
    for _ in range(series):
        series_uid = generate_uid()
        for number in range(1, images + 1):
            ds = make_ct(
                study_uid=study_uid, series_uid=series_uid, instance_number=number, **attributes
            )
            stored.append(store(archive, ds))
    return stored


def current(archive: Archive, ds: Dataset) -> Dataset:
    """The object as a retrieve would send it now."""
    (found,) = archive.locate({"SOPInstanceUID": ds.SOPInstanceUID})
    return dcmread(found.path)


def snapshot(archive: Archive) -> tuple[Any, ...]:
    """Everything a correction could change: index answers, files, recorded corrections."""
    images = sorted(
        (a["SOPInstanceUID"], a["PatientID"], a["PatientName"], a["StudyInstanceUID"], a["_path"])
        for a in archive.find("IMAGE", {})
    )
    files = sorted(
        (str(p.relative_to(archive.storage.root)), p.read_bytes())
        for p in archive.storage.root.rglob("*.dcm")
    )
    done = [(c.id, c.status) for c in archive.corrections()]
    return images, files, done, archive.statistics()


def test_rename_shows_in_find_and_in_the_file_retrieve_sends(archive: Archive) -> None:
    objects = study_of(archive, patient_id="P001", patient_name="Zhang^Shan")
    published: list[dict[str, Any]] = []
    archive.bus.subscribe("archive.corrected", lambda _topic, payload: published.append(payload))

    done = archive.correct(
        {"PatientID": "P001"},
        {"PatientName": "ZHANG^SAN=张^三", "PatientBirthDate": "19810203"},
        reason="ADT^A08 from HIS",
        username="his",
    )

    assert done.instances == 2
    assert done.old_patients == done.new_patients == (("P001", ""),)
    (patient,) = archive.find("PATIENT", {"PatientName": "张*"})
    assert (patient["PatientName"], patient["PatientBirthDate"]) == ("ZHANG^SAN=张^三", "19810203")
    assert list(archive.find("PATIENT", {"PatientName": "Zhang^Shan"})) == []
    with db.read(archive.engine) as conn:  # the pinyin search keys follow the name
        keys = conn.execute(
            select(t.patients.c.patient_name_initials, t.patients.c.patient_name_pinyin)
        ).one()
    assert tuple(keys) == ("ZS", "ZHANGSAN")
    for ds in objects:
        new = current(archive, ds)
        assert str(new.PatientName) == "ZHANG^SAN=张^三"
        assert new.PatientBirthDate == "19810203"
        assert new.SpecificCharacterSet == "ISO_IR 192"  # the default repertoire has no 张
        (change,) = new.OriginalAttributesSequence
        assert change.ReasonForTheAttributeModification == "CORRECT"
        (old_values,) = change.ModifiedAttributesSequence
        assert str(old_values.PatientName) == "Zhang^Shan"
        assert old_values.PatientBirthDate == "19800101"
    (recorded,) = archive.corrections(patient_id="P001")
    assert (recorded.id, recorded.username, recorded.reason) == (done.id, "his", "ADT^A08 from HIS")
    assert recorded.selector == {"PatientID": ["P001"]}
    assert recorded.changes["PatientName"] == "ZHANG^SAN=张^三"
    assert recorded.status == "done"
    assert [p["correction_id"] for p in published] == [done.id]
    assert archive.verify() == {"missing": [], "orphans": []}


def test_the_same_correction_again_writes_nothing(file_archive: Archive) -> None:
    (ds,) = study_of(file_archive, images=1)
    change = {"PatientName": "Li^Si"}
    assert (
        file_archive.correct({"PatientID": "P001"}, change, reason="", username="u").instances == 1
    )
    again = file_archive.correct({"PatientID": "P001"}, change, reason="", username="u")
    assert again.instances == 0
    assert len(file_archive.versions(ds.SOPInstanceUID)) == 2


def test_original_files_are_kept_as_versions(archive: Archive) -> None:
    (ds,) = study_of(archive, images=1, patient_name="Wrong^Name")
    before = archive.locate({"SOPInstanceUID": ds.SOPInstanceUID})[0].path.read_bytes()
    first = archive.correct(
        {"PatientID": "P001"}, {"PatientName": "Li^Si"}, reason="typo", username="a"
    )
    second = archive.correct({"PatientID": "P001"}, {"PatientSex": "F"}, reason="sex", username="b")

    versions = archive.versions(ds.SOPInstanceUID)
    assert [v.current for v in versions] == [True, False, False]
    assert [v.correction_id for v in versions] == [None, second.id, first.id]
    assert versions[-1].path.read_bytes() == before
    assert str(dcmread(versions[1].path).PatientName) == "Li^Si"
    assert dcmread(versions[1].path).PatientSex == "M"
    assert dcmread(versions[0].path).PatientSex == "F"
    assert all(v.path.stat().st_size == v.size for v in versions)
    assert [c.id for c in archive.corrections()] == [second.id, first.id]
    assert archive.verify() == {"missing": [], "orphans": []}


@pytest.mark.parametrize(
    ("charset", "description", "name", "expected_charset"),
    [
        ("GB18030", "胸部平扫", "WANG^WU=王^五", "GB18030"),  # holds the new name: kept
        (None, "CHEST", "WANG^WU=王^五", "ISO_IR 192"),  # default repertoire: UTF-8
        ("ISO_IR 100", "Thorax Röntgen", "WANG^WU=王^五", "ISO_IR 192"),  # Latin-1: UTF-8
        ("ISO 2022 IR 58", "胸部", "WANG^WU=王^五", "ISO 2022 IR 58"),  # GB 2312 has 王五
        ("ISO 2022 IR 58", "胸部", "LI^ZHE=李^喆", "ISO_IR 192"),  # ...but not 喆
    ],
)
def test_chinese_name_into_each_character_set(
    file_archive: Archive, charset: str | None, description: str, name: str, expected_charset: str
) -> None:
    code = Dataset()
    code.CodeValue, code.CodingSchemeDesignator, code.CodeMeaning = "X1", "99LOCAL", description
    (ds,) = study_of(
        file_archive,
        images=1,
        charset=charset,
        StudyDescription=description,
        ReferringPhysicianName=f"{description}^Dr",
        ProcedureCodeSequence=[code],
    )
    file_archive.correct(
        {"SOPInstanceUID": ds.SOPInstanceUID},
        {"PatientName": name},
        reason="",
        username="u",
    )
    new = current(file_archive, ds)
    assert new.SpecificCharacterSet == expected_charset
    assert str(new.PatientName) == name
    # other text, in sequences too, survives a change of set
    assert new.StudyDescription == description
    assert str(new.ReferringPhysicianName) == f"{description}^Dr"
    assert new.ProcedureCodeSequence[0].CodeMeaning == description
    old_values = new.OriginalAttributesSequence[0].ModifiedAttributesSequence[0]
    assert str(old_values.PatientName) == "Zhang^San"
    (patient,) = file_archive.find("PATIENT", {"PatientName": name.split("=")[1]})
    assert patient["PatientID"] == "P001"


def test_compressed_pixel_data_is_byte_identical_after_a_rewrite(file_archive: Archive) -> None:
    for name in ("JPEG2000.dcm", "SC_rgb_rle.dcm", "MR_small_bigendian.dcm", "image_dfl.dcm"):
        original = dcmread(testdata(name))
        file_archive.store_instance(testdata(name).read_bytes(), ORIGIN)
        file_archive.correct(
            {"SOPInstanceUID": original.SOPInstanceUID},
            {"PatientName": "ZHAO^LIU=赵^六"},
            reason="",
            username="u",
        )
        new = current(file_archive, original)
        assert new.file_meta.TransferSyntaxUID == original.file_meta.TransferSyntaxUID, name
        assert new.PixelData == original.PixelData, name
        assert str(new.PatientName) == "ZHAO^LIU=赵^六"


def test_merge_patient_a_into_b(archive: Archive) -> None:
    a_objects = study_of(archive, patient_id="A", patient_name="Li^Si", accession="ACC-A")
    b_objects = study_of(
        archive, patient_id="B", patient_name="LI^SI=李^四", accession="ACC-B", charset="ISO_IR 192"
    )
    b_files = {str(archive.locate({"SOPInstanceUID": d.SOPInstanceUID})[0].path) for d in b_objects}

    # A40: only B's identity is given; A's objects take B's name from the index.
    done = archive.correct({"PatientID": "A"}, {"PatientID": "B"}, reason="A40", username="his")

    assert done.instances == len(a_objects)
    assert done.old_patients == (("A", ""),) and done.new_patients == (("B", ""),)
    assert list(archive.find("PATIENT", {"PatientID": "A"})) == []
    (b,) = archive.find("PATIENT", {"PatientID": "B", "NumberOfPatientRelatedStudies": ""})
    assert b["NumberOfPatientRelatedStudies"] == 2
    for ds in a_objects:
        new = current(archive, ds)
        assert (new.PatientID, str(new.PatientName)) == ("B", "LI^SI=李^四")
        assert new.AccessionNumber == "ACC-A"  # study attributes are not the patient's
    # B's own objects already held B's values: not rewritten.
    assert {
        str(archive.locate({"SOPInstanceUID": d.SOPInstanceUID})[0].path) for d in b_objects
    } == b_files
    assert archive.statistics()["patients"] == 1
    assert archive.corrections(patient_id="A")[0].id == done.id


def test_link_an_unmatched_study_to_its_exam(archive: Archive) -> None:
    """Reconciliation: an emergency study stored under a temporary ID gets the patient's
    identity and the exam's accession number and requested procedure."""
    objects = study_of(archive, patient_id="TEMP-0001", patient_name="UNKNOWN", accession="")
    study_uid = objects[0].StudyInstanceUID
    done = archive.correct(
        {"StudyInstanceUID": study_uid},
        {
            "PatientID": "H123456",
            "PatientName": "CHEN^JING=陈^静",
            "PatientSex": "F",
            "PatientBirthDate": "19750512",
            "AccessionNumber": "RIS-2026-0042",
            "RequestedProcedureID": "RP42",
        },
        reason="emergency study reconciled",
        username="registrar",
    )
    assert done.new_study_uids == (study_uid,)
    (study,) = archive.find("STUDY", {"AccessionNumber": "RIS-2026-0042"})
    assert (study["PatientID"], study["PatientName"], study["StudyInstanceUID"]) == (
        "H123456",
        "CHEN^JING=陈^静",
        study_uid,
    )
    assert list(archive.find("PATIENT", {"PatientID": "TEMP-0001"})) == []
    new = current(archive, objects[0])
    assert new.RequestAttributesSequence[0].RequestedProcedureID == "RP42"
    assert (new.PatientID, new.PatientSex, new.AccessionNumber) == ("H123456", "F", "RIS-2026-0042")


def test_split_a_study(archive: Archive) -> None:
    objects = study_of(archive, series=2, images=2, StudyDescription="CT chest+abdomen")
    first, second = objects[0].SeriesInstanceUID, objects[2].SeriesInstanceUID
    old_uid, new_uid = objects[0].StudyInstanceUID, generate_uid()

    done = archive.correct(
        {"SeriesInstanceUID": [second]},
        {"StudyInstanceUID": new_uid, "AccessionNumber": "A002", "StudyDescription": "CT abdomen"},
        reason="two exams in one study",
        username="tech",
    )

    assert (done.old_study_uids, done.new_study_uids) == ((old_uid,), (new_uid,))
    assert done.instances == 2
    moved = {a["SeriesInstanceUID"]: a for a in archive.find("SERIES", {})}
    assert moved[first]["StudyInstanceUID"] == old_uid
    assert moved[second]["StudyInstanceUID"] == new_uid
    assert moved[first]["StudyDescription"] == "CT chest+abdomen"  # the old study keeps its own
    assert (moved[second]["AccessionNumber"], moved[second]["StudyDescription"]) == (
        "A002",
        "CT abdomen",
    )
    for ds in objects[2:]:
        new = current(archive, ds)
        assert (new.StudyInstanceUID, new.AccessionNumber) == (new_uid, "A002")
    assert current(archive, objects[0]).StudyInstanceUID == old_uid
    assert len(archive.versions(objects[0].SOPInstanceUID)) == 1  # untouched
    assert archive.corrections(study_instance_uid=new_uid)[0].id == done.id
    assert archive.corrections(study_instance_uid=old_uid)[0].id == done.id


def test_merge_two_studies(archive: Archive) -> None:
    a = study_of(archive, accession="ACC-A", StudyDescription="CT head")
    b = study_of(archive, accession="ACC-B", StudyDescription="CT head (2)", study_time="090000")
    a_uid, b_uid = a[0].StudyInstanceUID, b[0].StudyInstanceUID

    archive.correct(
        {"StudyInstanceUID": b_uid},
        {"StudyInstanceUID": a_uid},
        reason="one exam sent as two studies",
        username="tech",
    )

    (study,) = archive.find("STUDY", {"NumberOfStudyRelatedSeries": ""})
    assert study["StudyInstanceUID"] == a_uid
    assert study["NumberOfStudyRelatedSeries"] == 2
    assert list(archive.find("STUDY", {"StudyInstanceUID": b_uid})) == []
    for ds in b:
        new = current(archive, ds)
        # A's study attributes come with the move
        assert (new.StudyInstanceUID, new.AccessionNumber) == (a_uid, "ACC-A")
        assert (new.StudyDescription, new.StudyTime) == ("CT head", "083000")


def test_study_attributes_reach_every_object_of_the_study(archive: Archive) -> None:
    objects = study_of(archive, series=2, images=1)
    archive.correct(
        {"SeriesInstanceUID": objects[0].SeriesInstanceUID},
        {"StudyDescription": "CT 胸部"},
        reason="",
        username="u",
    )
    assert [current(archive, ds).StudyDescription for ds in objects] == ["CT 胸部", "CT 胸部"]


def test_a_patient_with_studies_left_keeps_them(archive: Archive) -> None:
    first = study_of(archive, patient_id="A")
    second = study_of(archive, patient_id="A")
    archive.correct(
        {"StudyInstanceUID": second[0].StudyInstanceUID},
        {"PatientID": "B", "PatientName": "Other^Person"},
        reason="study filed under the wrong patient",
        username="u",
    )
    (a,) = archive.find("PATIENT", {"PatientID": "A", "NumberOfPatientRelatedStudies": ""})
    assert a["NumberOfPatientRelatedStudies"] == 1
    assert current(archive, first[0]).PatientID == "A"
    assert (current(archive, second[0]).PatientID, a["PatientName"]) == ("B", "Zhang^San")


REFUSALS: list[tuple[Any, dict[str, str], str]] = [
    ({}, {"PatientName": "X"}, "empty_selector"),
    ({"PatientID": ""}, {"PatientName": "X"}, "empty_selector"),
    ({"IssuerOfPatientID": "H"}, {"PatientName": "X"}, "empty_selector"),
    ({"AccessionNumber": "A001"}, {"PatientName": "X"}, "unknown_selector"),
    ({"PatientID": "P001"}, {}, "no_changes"),
    ({"PatientID": "P001"}, {"SOPInstanceUID": "1.2.3"}, "forbidden_attribute"),
    ({"PatientID": "P001"}, {"PixelData": "x"}, "forbidden_attribute"),
    ({"PatientID": "P001"}, {"Modality": "MR"}, "forbidden_attribute"),
    ({"PatientID": "P001"}, {"NoSuchKeyword": "x"}, "unknown_attribute"),
    ({"PatientID": "P001"}, {"PatientBirthDate": "1980-01-01"}, "invalid_value"),
    ({"PatientID": "P001"}, {"PatientSex": "X"}, "invalid_value"),
    ({"PatientID": "P001"}, {"PatientID": ""}, "invalid_value"),
    ({"PatientID": "P001"}, {"PatientID": "A\\B"}, "invalid_value"),
    ({"PatientID": "P001"}, {"StudyInstanceUID": "1.2.abc"}, "invalid_value"),
    ({"PatientID": "P001"}, {"PatientName": "A" * 65}, "invalid_value"),
    ("one image", {"StudyInstanceUID": "1.2.3.4"}, "partial_series"),
    ("one image", {"PatientID": "OTHER"}, "partial_series"),
    ("one series", {"PatientID": "OTHER"}, "patient_conflict"),
    ("one series", {"StudyInstanceUID": "other study"}, "patient_conflict"),
]


def test_a_refused_correction_leaves_everything_as_it_was(archive: Archive) -> None:
    objects = study_of(archive, series=2, images=2)
    other_study = study_of(archive, patient_id="OTHER", images=1)[0].StudyInstanceUID
    before = snapshot(archive)
    for selector, changes, code in REFUSALS:
        if selector == "one image":
            selector = {"SOPInstanceUID": objects[0].SOPInstanceUID}
        elif selector == "one series":
            selector = {"SeriesInstanceUID": objects[0].SeriesInstanceUID}
        if changes.get("StudyInstanceUID") == "other study":
            changes = {"StudyInstanceUID": other_study, "PatientID": "P001"}
        with pytest.raises(CorrectionError) as refused:
            archive.correct(selector, changes, reason="", username="u")
        assert (refused.value.code, selector, changes) == (code, selector, changes)
        assert str(refused.value)
        assert snapshot(archive) == before


def test_patient_id_of_several_issuers_needs_the_issuer(archive: Archive) -> None:
    study_of(archive, patient_id="P7", IssuerOfPatientID="HOSP-A")
    study_of(archive, patient_id="P7", IssuerOfPatientID="HOSP-B")
    with pytest.raises(CorrectionError, match="IssuerOfPatientID") as refused:
        archive.correct({"PatientID": "P7"}, {"PatientName": "X"}, reason="", username="u")
    assert refused.value.code == "ambiguous_patient"
    done = archive.correct(
        {"PatientID": "P7", "IssuerOfPatientID": "HOSP-B"},
        {"PatientName": "Wu^Qi"},
        reason="",
        username="u",
    )
    assert done.instances == 2
    names = {p["IssuerOfPatientID"]: p["PatientName"] for p in archive.find("PATIENT", {})}
    assert names == {"HOSP-A": "Zhang^San", "HOSP-B": "Wu^Qi"}


def test_objects_without_an_issuer_go_with_the_one_issuer_there_is(archive: Archive) -> None:
    """A modality sent no issuer, the HIS's A08 names one: one patient afterwards."""
    study_of(archive, patient_id="P8", images=1)
    study_of(archive, patient_id="P8", IssuerOfPatientID="HIS", images=1)
    done = archive.correct(
        {"PatientID": "P8"},
        {"IssuerOfPatientID": "HIS", "PatientName": "Zhou^Ba"},
        reason="A08",
        username="his",
    )
    assert done.new_patients == (("P8", "HIS"),)
    (patient,) = archive.find("PATIENT", {"NumberOfPatientRelatedStudies": ""})
    assert (patient["IssuerOfPatientID"], patient["NumberOfPatientRelatedStudies"]) == ("HIS", 2)


def test_a_crash_before_the_switch_leaves_the_old_objects(archive: Archive) -> None:
    """The new files are written but the index never switched (the process died): recovery
    removes them and every object is still its old self."""
    objects = study_of(archive, images=2)
    before = snapshot(archive)
    selector = correction_plan.check_selector({"PatientID": "P001"})
    changes = correction_plan.check_changes({"PatientName": "New^Name"})
    with db.read(archive.engine) as conn:
        plan = correction_plan.make_plan(conn, archive.storage, selector, changes)
    paths = [item.new_path for item in plan.rewrites]
    correction_id = corrections._record_pending(
        archive.engine, None, selector, changes, paths, "", "u"
    )
    written: list[Any] = []
    corrections._write(archive.storage, plan.rewrites, datetime.now(UTC), written)
    assert len(written) == 2 and all(archive.storage.absolute(p).exists() for p in paths)

    # A restart right away: the young correction may belong to a live process; its files are
    # neither indexed nor removed.
    assert archive.recover()["indexed"] == 0
    assert all(archive.storage.absolute(p).exists() for p in paths)
    # Once stale it is abandoned and its files go.
    corrections.settle_unfinished(archive.engine, archive.storage, older_than=timedelta(0))
    assert not any(archive.storage.absolute(p).exists() for p in paths)
    (abandoned,) = archive.corrections()
    assert (abandoned.id, abandoned.status) == (correction_id, "abandoned")
    images, files, _, statistics = snapshot(archive)
    assert (images, files, statistics) == (before[0], before[1], before[3])
    assert str(current(archive, objects[0]).PatientName) == "Zhang^San"
    assert archive.verify() == {"missing": [], "orphans": []}


# -- through the real DICOM server ------------------------------------------------------------


def findscu(core: RunningCore, tmp_path: Path, level: str, **identifier: str) -> list[Dataset]:
    folder = Path(tempfile.mkdtemp(dir=tmp_path, prefix="find-"))
    query = keys(QueryRetrieveLevel=level, **identifier)
    dcmtk("findscu", "-S", "-X", "-od", folder, *query, *peer(core))
    return [dcmread(path) for path in sorted(folder.glob("rsp*.dcm"))]


def test_c_find_and_c_get_answer_with_the_corrected_object(
    core: RunningCore, tmp_path: Path
) -> None:
    archive = core.core.archive
    a = study_of(archive, patient_id="A", patient_name="Li^Si")
    study_of(archive, patient_id="B", patient_name="LI^SI=李^四", charset="ISO_IR 192")
    core.register("FINDSCU", allow_query=True)
    core.register("GETSCU", allow_retrieve=True)
    archive.correct({"PatientID": "A"}, {"PatientID": "B"}, reason="A40", username="his")

    patients = findscu(core, tmp_path, "PATIENT", PatientID="", PatientName="")
    assert [(p.PatientID, str(p.PatientName)) for p in patients] == [("B", "LI^SI=李^四")]
    studies = findscu(core, tmp_path, "STUDY", PatientID="B", StudyInstanceUID="")
    assert a[0].StudyInstanceUID in {s.StudyInstanceUID for s in studies}
    assert len(studies) == 2

    received = getscu(
        core, tmp_path / "get", QueryRetrieveLevel="STUDY", StudyInstanceUID=a[0].StudyInstanceUID
    )
    assert len(received) == len(a)
    for path in received:
        got = dcmread(path)
        assert (got.PatientID, str(got.PatientName)) == ("B", "LI^SI=李^四")
        assert got.OriginalAttributesSequence[0].ModifiedAttributesSequence[0].PatientID == "A"


def test_an_object_stored_meanwhile_makes_the_switch_start_again(archive: Archive) -> None:
    """Between the plan and the switch a new image of the patient arrives: the switch sees it
    and refuses (the correction then plans again and includes it)."""
    objects = study_of(archive, images=1)
    selector = correction_plan.check_selector({"PatientID": "P001"})
    changes = correction_plan.check_changes({"PatientName": "New^Name"})
    with db.read(archive.engine) as conn:
        plan = correction_plan.make_plan(conn, archive.storage, selector, changes)
    correction_id = corrections._record_pending(
        archive.engine, None, selector, changes, [], "", "u"
    )
    written: list[Any] = []
    corrections._write(archive.storage, plan.rewrites, datetime.now(UTC), written)
    late = make_ct(
        study_uid=objects[0].StudyInstanceUID,
        series_uid=objects[0].SeriesInstanceUID,
        instance_number=2,
    )
    store(archive, late)
    with pytest.raises(corrections._Changed), db.write(archive.engine) as conn:
        corrections._switch(conn, plan, written, correction_id, datetime.now(UTC))
    corrections._remove(archive.storage, written)
    assert str(current(archive, objects[0]).PatientName) == "Zhang^San"  # rolled back

    done = archive.correct(selector, changes, reason="", username="u")
    assert done.instances == 2
    assert str(current(archive, late).PatientName) == "New^Name"
    assert archive.verify() == {"missing": [], "orphans": []}


def test_an_object_that_cannot_be_rewritten_stops_the_whole_correction(
    file_archive: Archive,
) -> None:
    """A file gone from the disk: the correction is refused and the files already rewritten
    for it are removed; every object stays as it was."""
    objects = study_of(file_archive, images=3)
    file_archive.locate({"SOPInstanceUID": objects[2].SOPInstanceUID})[0].path.unlink()
    before = snapshot(file_archive)
    with pytest.raises(CorrectionError, match=objects[2].SOPInstanceUID) as refused:
        file_archive.correct(
            {"PatientID": "P001"}, {"PatientName": "Li^Si"}, reason="", username="u"
        )
    assert refused.value.code == "unwritable"
    images, files, _, statistics = snapshot(file_archive)
    assert (images, files, statistics) == (before[0], before[1], before[3])
    assert [c.status for c in file_archive.corrections()] == ["abandoned"]
    assert file_archive.verify()["orphans"] == []


# -- objects arriving after a correction ------------------------------------------------------


def archive_corrections(archive: Archive) -> list[str]:
    return [c.reason for c in archive.corrections(username="archive")]


def test_late_images_and_resends_follow_a_rename(archive: Archive) -> None:
    first = study_of(archive, images=1, patient_name="Zhang^Shan")[0]
    unrelated = study_of(archive, patient_id="P999", images=1)[0]
    rename = archive.correct(
        {"PatientID": "P001"}, {"PatientName": "ZHANG^SAN=张^三"}, reason="A08", username="his"
    )

    # the rest of the series, sent with the old name after the rename
    late = make_ct(
        study_uid=first.StudyInstanceUID,
        series_uid=first.SeriesInstanceUID,
        instance_number=2,
        patient_name="Zhang^Shan",
    )
    stored = archive.store_instance(encode(late), ORIGIN)
    assert stored.study_instance_uid == first.StudyInstanceUID
    assert str(current(archive, late).PatientName) == "ZHANG^SAN=张^三"
    # the modality sends the original again: corrected again, the re-sent file kept
    archive.store_instance(encode(first), ORIGIN)
    assert str(current(archive, first).PatientName) == "ZHANG^SAN=张^三"
    # original, renamed, re-sent, renamed again (current)
    assert len(archive.versions(first.SOPInstanceUID)) == 4
    assert archive_corrections(archive) == [f"arrived after correction {rename.id}"] * 2
    # objects that agree, or that no correction concerns, are left alone
    archive.store_instance(encode(make_ct(patient_id="P999", instance_number=2)), ORIGIN)
    assert len(archive.versions(unrelated.SOPInstanceUID)) == 1
    assert len(archive_corrections(archive)) == 2
    assert archive.verify() == {"missing": [], "orphans": []}


def test_late_images_follow_a_split_and_a_study_merge(archive: Archive) -> None:
    objects = study_of(archive, series=2, images=1, accession="A001")
    kept, moved = objects
    split_uid = generate_uid()
    archive.correct(
        {"SeriesInstanceUID": moved.SeriesInstanceUID},
        {"StudyInstanceUID": split_uid, "AccessionNumber": "A002"},
        reason="split",
        username="tech",
    )
    late = make_ct(
        study_uid=kept.StudyInstanceUID,
        series_uid=moved.SeriesInstanceUID,
        instance_number=2,
        accession="A001",
    )
    archive.store_instance(encode(late), ORIGIN)
    new = current(archive, late)
    assert (new.StudyInstanceUID, new.AccessionNumber) == (split_uid, "A002")

    # the split-off study is merged back; a new series of it arrives later and goes along
    archive.correct(
        {"StudyInstanceUID": split_uid},
        {"StudyInstanceUID": kept.StudyInstanceUID},
        reason="merge back",
        username="tech",
    )
    straggler = make_ct(study_uid=split_uid, accession="A002", instance_number=3)
    stored = archive.store_instance(encode(straggler), ORIGIN)
    assert stored.study_instance_uid == kept.StudyInstanceUID
    new = current(archive, straggler)
    assert (new.StudyInstanceUID, new.AccessionNumber) == (kept.StudyInstanceUID, "A001")
    assert [s["StudyInstanceUID"] for s in archive.find("STUDY", {})] == [kept.StudyInstanceUID]


def test_a_new_study_of_a_merged_patient_goes_to_the_surviving_one(archive: Archive) -> None:
    study_of(archive, patient_id="TEMP-1", patient_name="UNKNOWN", images=1)
    study_of(archive, patient_id="H1", patient_name="LIU^YANG=刘^洋", charset="ISO_IR 192")
    archive.correct({"PatientID": "TEMP-1"}, {"PatientID": "H1"}, reason="A40", username="his")

    later = make_ct(patient_id="TEMP-1", patient_name="UNKNOWN")
    archive.store_instance(encode(later), ORIGIN)
    new = current(archive, later)
    assert (new.PatientID, str(new.PatientName)) == ("H1", "LIU^YANG=刘^洋")
    assert [p["PatientID"] for p in archive.find("PATIENT", {})] == ["H1"]
    (study,) = archive.find("STUDY", {"StudyInstanceUID": later.StudyInstanceUID})
    assert study["PatientID"] == "H1"
