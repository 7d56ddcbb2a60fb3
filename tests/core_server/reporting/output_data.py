"""Signed reports on a running core for the report output tests: a registered patient, an
ordered and performed exam with stored CT images, a report written and signed by a doctor."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

import httpx
from pydicom import Dataset, dcmread
from pydicom.uid import generate_uid

from core_server import auth
from core_server.archive import Origin
from core_server.reporting import Content, Doctor, KeyImage, Report
from core_server.ris import Exam, OrderIn, PatientIn, ProcedureRequest
from tests.conftest import RunningCore
from tests.dicom_data import encode, make_ct, testdata

PASSWORD = "Doctor-password-1"
CHIEF = Doctor("chen.chief", "reviewing_doctor")
FINDINGS = "<p>右肺上叶见一实性结节，大小约8mm，边缘光滑。</p><p>纵隔内未见肿大淋巴结。</p>"
IMPRESSION = "<p>右肺上叶结节，建议6个月后复查。</p>"


@dataclass
class Signed:
    report: Report
    exam: Exam
    image_uids: list[str]


def photo(
    *,
    patient_id: str,
    patient_name: str,
    study_uid: str,
    series_uid: str,
    accession: str,
    instance_number: int,
) -> Dataset:
    """A colour endoscopy picture (pydicom's RGB sample) in the exam's study."""
    ds = dcmread(testdata("SC_rgb_rle.dcm"))
    ds.SpecificCharacterSet = "ISO_IR 192"
    ds.PatientID, ds.PatientName, ds.AccessionNumber = patient_id, patient_name, accession
    ds.StudyInstanceUID, ds.SeriesInstanceUID = study_uid, series_uid
    ds.SOPInstanceUID = generate_uid()
    ds.file_meta.MediaStorageSOPInstanceUID = ds.SOPInstanceUID
    ds.Modality, ds.InstanceNumber = "ES", instance_number
    return ds


def api(core: RunningCore, username: str, password: str = PASSWORD) -> httpx.Client:
    """A signed-in client that waits for PDFs (a first render warms weasyprint up)."""
    client = core.api(username, password)
    client.timeout = httpx.Timeout(120)
    return client


def users(core: RunningCore) -> None:
    """The doctor who signs (chief: one-level sign-off), a registrar, a clinician."""
    engine = core.core.engine
    for username, role, name in (
        (CHIEF.username, CHIEF.role, "陈主任"),
        ("wang.registrar", "registrar", "王登记"),
        ("zhou.registrar", "registrar", "周登记"),
        ("liu.clinician", "clinician", "刘医生"),
    ):
        if auth.get_user(engine, username) is None:
            auth.create_user(engine, username, PASSWORD, role, name)
    reporting = core.core.reporting
    reporting.set_grade(CHIEF.username, "chief")


def signed_report(
    core: RunningCore,
    patient_id: str,
    *,
    name: str = "张三",
    procedure: str = "CT-CHEST",
    images: int = 2,
    findings: str = FINDINGS,
    impression: str = IMPRESSION,
    colour: bool = False,
    key_image: bool = True,
    own_study: bool = True,
) -> Signed:
    """A performed exam with ``images`` CT images in its study and a signed report."""
    users(core)
    ris, reporting, archive = core.core.ris, core.core.reporting, core.core.archive
    ris.register_patient(
        PatientIn(patient_id, name, birth_date=date(1960, 5, 1), sex="M"), username="reg"
    )
    order = ris.place_order(
        patient_id,
        "",
        OrderIn(f"ORD-{patient_id}", (ProcedureRequest(procedure),)),
        username="reg",
    )
    exam = order.exams[0]
    for status in ("arrived", "in_progress", "completed"):
        ris.change_status(exam.id, status, username="tech")
    series = generate_uid()
    # A modality that ignores the worklist makes its own study, linked to the exam afterwards.
    study = exam.study_instance_uid if own_study else generate_uid()
    uids = []
    for number in range(1, images + 1):
        identity = {
            "patient_id": patient_id,
            "patient_name": ris.patient(patient_id).dicom_name,
            "study_uid": study,
            "series_uid": series,
            "accession": exam.accession_number,
            "instance_number": number,
        }
        ds = photo(**identity) if colour else make_ct(charset="ISO_IR 192", size=64, **identity)
        archive.store_instance(encode(ds), Origin("test"))
        uids.append(str(ds.SOPInstanceUID))
    if not own_study:
        ris.link_study(study, exam.id, username="reg")
    reporting.set_levels(exam.department, 1)
    report = reporting.start(exam.id, CHIEF)
    reporting.save(report.id, CHIEF, Content(findings=findings, impression=impression))
    if uids and key_image:
        reporting.set_key_images(
            report.id,
            CHIEF,
            [KeyImage(study, series, uids[0], note="右肺上叶结节")],
        )
    report = reporting.sign(report.id, CHIEF)
    return Signed(report, ris.exam(exam.id), uids)
