"""Hand-made patients and exams for the eligibility, release and cloud-film tests (no tests
here): a patient with a valid ID card, phone and birth date, and exams in the states the
issue names (incomplete, complete without report, signed, held)."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date

from pydicom.uid import generate_uid

from core_server import auth
from core_server.archive import Origin
from core_server.reporting import Content, Doctor
from core_server.ris import OrderIn, PatientIn, ProcedureRequest
from tests.conftest import RunningCore
from tests.dicom_data import encode, make_ct

CHIEF = Doctor("chen.chief", "reviewing_doctor")
DOCTOR_PASSWORD = "Chief-doctor-2026"
BIRTH = date(1975, 3, 9)
PHONE = "138 0013 5678"
FINDINGS = "右肺上叶见一约8mm结节，边缘光整。"
IMPRESSION = "右肺上叶小结节，建议随访。"


def id_card(birth: date, serial: str = "123") -> str:
    """A resident ID number (GB 11643) with its check digit."""
    body = f"110101{birth:%Y%m%d}{serial}"
    weights = (7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2)
    total = sum(int(d) * w for d, w in zip(body, weights, strict=True))
    return body + "10X98765432"[total % 11]


@dataclass
class Patient:
    core: RunningCore
    patient_id: str
    card: str
    exams: dict[str, int] = field(default_factory=dict)
    accessions: dict[str, str] = field(default_factory=dict)
    series: dict[str, str] = field(default_factory=dict)

    def exam(self, label: str, *, status: str, images: int = 2, signed: bool = False) -> int:
        ris, archive = self.core.core.ris, self.core.core.archive
        order = OrderIn(f"O-{self.patient_id}-{label}", (ProcedureRequest("CT-CHEST"),))
        exam = ris.place_order(self.patient_id, "", order, username="reg").exams[0]
        steps = ("arrived", "in_progress", "completed")
        for step in steps[: steps.index(status) + 1] if status in steps else ():
            ris.change_status(exam.id, step, username="tech")
        series = generate_uid()
        for number in range(1, images + 1):
            ds = make_ct(
                patient_id=self.patient_id,
                patient_name=ris.patient(self.patient_id).dicom_name,
                study_uid=exam.study_instance_uid,
                series_uid=series,
                accession=exam.accession_number,
                instance_number=number,
                charset="ISO_IR 192",
                size=64,
            )
            archive.store_instance(encode(ds), Origin("test"))
        if signed:
            reporting = self.core.core.reporting
            reporting.set_levels(exam.department, 1)
            report = reporting.start(exam.id, CHIEF)
            reporting.save(report.id, CHIEF, Content(findings=FINDINGS, impression=IMPRESSION))
            reporting.sign(report.id, CHIEF)
        self.exams[label] = exam.id
        self.accessions[label] = exam.accession_number
        self.series[label] = series
        return exam.id


def patient(core: RunningCore, patient_id: str, name: str = "王^建国") -> Patient:
    engine = core.core.engine
    if auth.get_user(engine, CHIEF.username) is None:
        auth.create_user(engine, CHIEF.username, DOCTOR_PASSWORD, "reviewing_doctor", "陈主任")
    card = id_card(BIRTH, f"{sum(map(ord, patient_id)) % 900 + 100}")
    core.core.ris.register_patient(
        PatientIn(patient_id, name, id_card_number=card, birth_date=BIRTH, phone=PHONE),
        username="reg",
    )
    return Patient(core, patient_id, card)


def standard(core: RunningCore, patient_id: str = "P-DISC-1") -> Patient:
    """One patient with four exams: signed, complete unsigned, in progress, and signed but
    to be held by the test."""
    p = patient(core, patient_id)
    p.exam("signed", status="completed", signed=True)
    p.exam("unsigned", status="completed")
    p.exam("running", status="in_progress", images=1)
    p.exam("held", status="completed", signed=True)
    return p
