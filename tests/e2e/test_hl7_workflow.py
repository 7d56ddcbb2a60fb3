"""The HIS-driven workflow end to end, every step over its real protocol: ADT^A01 and ORM^O01
in over MLLP -> the modality's worklist (dcmtk ``findscu -W``) shows the procedure with the
Chinese name -> MPPS IN PROGRESS -> images with that accession stored (``storescu``) -> MPPS
COMPLETED, exam completed with its images matched -> ADT^A08 renames the patient -> C-FIND and
a retrieved file (``getscu``) show the new name; meanwhile the HIS receives each status change
(ORM^O01 SC/IP/CM) over MLLP."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path

import hl7
from pydicom import Dataset, dcmread
from pydicom.uid import generate_uid
from pynetdicom.sop_class import ModalityPerformedProcedureStep

from tests.conftest import RunningCore
from tests.core_server.dicom.clients import associate, client_ae, dcmtk, getscu, keys, peer
from tests.core_server.hl7.mllp import HisListener, ack_fields, message, send, wait_for
from tests.core_server.hl7.test_inbound import msh, pid, pv1, segment
from tests.dicom_data import make_ct, write

GB = "GB 18030-2000"


def _mpps_create(accession: str, study_uid: str) -> Dataset:
    ds = Dataset()
    step = Dataset()
    step.AccessionNumber = accession
    step.StudyInstanceUID = study_uid
    step.RequestedProcedureID = ""
    step.ScheduledProcedureStepID = ""
    ds.ScheduledStepAttributesSequence = [step]
    ds.PatientName = "ZHANG^SAN"
    ds.PatientID = "HIS001"
    ds.PerformedProcedureStepID = "PPS1"
    ds.PerformedStationAETitle = "CT01"
    ds.PerformedProcedureStepStartDate = datetime.now().strftime("%Y%m%d")
    ds.PerformedProcedureStepStartTime = datetime.now().strftime("%H%M%S")
    ds.PerformedProcedureStepStatus = "IN PROGRESS"
    ds.Modality = "CT"
    ds.PerformedSeriesSequence = []
    return ds


def _mpps_completed(series_uid: str) -> Dataset:
    ds = Dataset()
    ds.PerformedProcedureStepStatus = "COMPLETED"
    ds.PerformedProcedureStepEndDate = datetime.now().strftime("%Y%m%d")
    ds.PerformedProcedureStepEndTime = datetime.now().strftime("%H%M%S")
    series = Dataset()
    series.SeriesInstanceUID = series_uid
    series.ReferencedImageSequence = []
    ds.PerformedSeriesSequence = [series]
    return ds


def test_his_orders_to_images_and_a_rename(core: RunningCore, tmp_path: Path) -> None:
    core.register("CT01")
    ris = core.core.ris
    hl7_port = core.settings.hl7_port
    with HisListener() as his, core.api() as admin:
        destination = {"name": "HIS", "host": "127.0.0.1", "port": his.port, "charset": GB}
        assert admin.post("/api/hl7/destinations", json=destination).status_code == 201

        # 1. The HIS registers the patient and orders a chest CT for now (GB18030).
        now = datetime.now().strftime("%Y%m%d%H%M%S")
        admit = message(
            msh("ADT^A01^ADT_A01", "E1", GB),
            pid("HIS001", "张^三~ZHANG^SAN"),
            pv1("V1", "O"),
            charset="gb18030",
        )
        order = message(
            msh("ORM^O01", "E2", GB, version="2.3.1"),
            pid("HIS001", "张^三~ZHANG^SAN"),
            pv1("V1", "O"),
            segment("ORC", {1: "NW", 2: "ORD1^HIS", 7: f"^^^{now}^^R"}),
            segment("OBR", {1: "1", 2: "ORD1^HIS", 4: "CT-CHEST^胸部CT平扫^L", 24: "CT"}),
            charset="gb18030",
        )
        answers = send(hl7_port, admit, order)
        assert [ack_fields(a, "gb18030")["code"] for a in answers] == ["AA", "AA"]
        (exam,) = ris.order(placer_order_number="ORD1", placer_application="HIS").exams

        # 2. The CT's worklist shows it with the Chinese name.
        folder = tmp_path / "mwl"
        folder.mkdir()
        dcmtk(
            "findscu", "-W", "-X", "-od", folder, "-aet", "CT01",
            *keys(
                SpecificCharacterSet="GB18030",
                PatientName="",
                PatientID="",
                AccessionNumber=exam.accession_number,
                StudyInstanceUID="",
                RequestedProcedureDescription="",
            ),
            "-k", "ScheduledProcedureStepSequence[0].Modality=CT",
            *peer(core),
        )  # fmt: skip
        (item,) = [dcmread(p) for p in folder.glob("rsp*.dcm")]
        assert str(item.PatientName) == "ZHANG^SAN=张^三"
        assert item.PatientID == "HIS001" and item.RequestedProcedureDescription == "胸部CT平扫"
        study_uid = str(item.StudyInstanceUID)

        # 3. MPPS IN PROGRESS, images with the accession, MPPS COMPLETED.
        ae = client_ae("CT01")
        ae.add_requested_context(ModalityPerformedProcedureStep)
        assoc = associate(ae, core)
        mpps_uid, series_uid = generate_uid(), generate_uid()
        try:
            status, _ = assoc.send_n_create(
                _mpps_create(exam.accession_number, study_uid),
                ModalityPerformedProcedureStep,
                mpps_uid,
            )
            assert status.Status == 0x0000
            assert ris.exam(exam.id).status == "in_progress"
            images = tmp_path / "images"
            images.mkdir()
            for number in (1, 2):
                ct = make_ct(
                    patient_id="HIS001",
                    patient_name="ZHANG^SAN=张^三",
                    charset="GB18030",
                    study_uid=study_uid,
                    series_uid=series_uid,
                    accession=exam.accession_number,
                    instance_number=number,
                )
                write(ct, images)
            dcmtk("storescu", "+sd", "-aet", "CT01", *peer(core), images)
            status, _ = assoc.send_n_set(
                _mpps_completed(series_uid), ModalityPerformedProcedureStep, mpps_uid
            )
            assert status.Status == 0x0000
        finally:
            assoc.release()
        done = ris.exam(exam.id)
        assert done.status == "completed" and done.images == 2

        # 4. The HIS renames the patient (A08); C-FIND and a retrieved file follow.
        rename = message(
            msh("ADT^A08^ADT_A01", "E3", GB),
            pid("HIS001", "张^四~ZHANG^SI"),
            charset="gb18030",
        )
        (answer,) = send(hl7_port, rename)
        assert ack_fields(answer, "gb18030")["code"] == "AA"
        found = tmp_path / "find"
        found.mkdir()
        dcmtk(
            "findscu", "-S", "-X", "-od", found, "-aet", "CT01",
            *keys(
                QueryRetrieveLevel="STUDY",
                SpecificCharacterSet="ISO_IR 192",
                PatientID="HIS001",
                PatientName="",
                StudyInstanceUID=study_uid,
            ),
            *peer(core),
        )  # fmt: skip
        (study,) = [dcmread(p) for p in found.glob("rsp*.dcm")]
        assert str(study.PatientName) == "ZHANG^SI=张^四"
        retrieved = getscu(
            core,
            tmp_path / "get",
            "-aet",
            "CT01",
            QueryRetrieveLevel="STUDY",
            StudyInstanceUID=study_uid,
        )
        assert len(retrieved) == 2
        assert {str(dcmread(p).PatientName) for p in retrieved} == {"ZHANG^SI=张^四"}

        # 5. The HIS heard each step of the exam, in order.
        def statuses() -> list[str]:
            return [hl7.parse(m.decode("gb18030"))["ORC.F5"] for m in his.messages if b"ORD1" in m]

        wait_for(lambda: statuses()[-1:] == ["CM"])
        assert statuses() == ["SC", "IP", "CM"]


def test_his_merge_reaches_c_find_and_dicomweb(core: RunningCore, tmp_path: Path) -> None:
    """ADT^A40: the images of the patient merged away are shown under the surviving patient
    by C-FIND and QIDO-RS (IHE PIR); the merged identifier finds nothing any more."""
    core.register("CT01")
    hl7_port = core.settings.hl7_port
    registered = send(
        hl7_port,
        message(msh("ADT^A04^ADT_A01", "G1"), pid("KEEP1", "刘^备~LIU^BEI")),
        message(msh("ADT^A04^ADT_A01", "G2"), pid("GONE1", "刘^备~LIU^BEI")),
    )
    assert [ack_fields(a)["code"] for a in registered] == ["AA", "AA"]
    images = tmp_path / "images"
    images.mkdir()
    studies = {"KEEP1": generate_uid(), "GONE1": generate_uid()}
    for patient_id, study_uid in studies.items():
        ct = make_ct(
            patient_id=patient_id,
            patient_name="LIU^BEI=刘^备",
            charset="ISO_IR 192",
            study_uid=study_uid,
            accession="",
        )
        write(ct, images)
    dcmtk("storescu", "+sd", "-aet", "CT01", *peer(core), images)

    merge = message(msh("ADT^A40^ADT_A39", "G3"), pid("KEEP1", "刘^备~LIU^BEI"), "MRG|GONE1^^^HOSP")
    (answer,) = send(hl7_port, merge)
    assert ack_fields(answer)["code"] == "AA"

    def c_find(patient_id: str, folder: Path) -> set[str]:
        folder.mkdir()
        dcmtk(
            "findscu", "-S", "-X", "-od", folder, "-aet", "CT01",
            *keys(QueryRetrieveLevel="STUDY", PatientID=patient_id, StudyInstanceUID=""),
            *peer(core),
        )  # fmt: skip
        return {str(dcmread(p).StudyInstanceUID) for p in folder.glob("rsp*.dcm")}

    assert c_find("KEEP1", tmp_path / "keep") == set(studies.values())
    assert c_find("GONE1", tmp_path / "gone") == set()
    with core.api() as http:
        found = http.get("/dicom-web/studies", params={"PatientID": "KEEP1"}).json()
        assert {a["0020000D"]["Value"][0] for a in found} == set(studies.values())
        # No match: 204 No Content (PS3.18 8.3.4.4.1), no body.
        assert http.get("/dicom-web/studies", params={"PatientID": "GONE1"}).status_code == 204
