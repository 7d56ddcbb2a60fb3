"""MPPS SCP with a pynetdicom requestor: N-CREATE IN PROGRESS and N-SET COMPLETED /
DISCONTINUED move the RIS exam; refusals carry the standard's status codes."""

from __future__ import annotations

from pydicom import Dataset
from pydicom.uid import generate_uid
from pynetdicom.sop_class import ModalityPerformedProcedureStep

from core_server.ris import OrderIn, PatientIn, ProcedureRequest
from tests.conftest import RunningCore
from tests.core_server.dicom.clients import associate, client_ae


def _create(accession: str, study_uid: str = "") -> Dataset:
    ds = Dataset()
    step = Dataset()
    step.AccessionNumber = accession
    step.StudyInstanceUID = study_uid
    step.RequestedProcedureID = ""
    step.ScheduledProcedureStepID = ""
    ds.ScheduledStepAttributesSequence = [step]
    ds.PatientName = "ZHANG^SAN"
    ds.PatientID = "P1"
    ds.PerformedProcedureStepID = "PPS1"
    ds.PerformedStationAETitle = "CT01"
    ds.PerformedProcedureStepStartDate = "20261129"
    ds.PerformedProcedureStepStartTime = "090000"
    ds.PerformedProcedureStepStatus = "IN PROGRESS"
    ds.Modality = "CT"
    ds.PerformedSeriesSequence = []
    return ds


def _set(state: str) -> Dataset:
    ds = Dataset()
    ds.PerformedProcedureStepStatus = state
    ds.PerformedProcedureStepEndDate = "20261129"
    ds.PerformedProcedureStepEndTime = "091500"
    series = Dataset()
    series.SeriesInstanceUID = generate_uid()
    series.ReferencedImageSequence = []
    ds.PerformedSeriesSequence = [series]
    return ds


def test_mpps_moves_the_exam(core: RunningCore) -> None:
    core.register("CT01")
    ris = core.core.ris
    ris.register_patient(PatientIn("P1", "张三"), username="reg")
    first, second = ris.place_order(
        "P1",
        "",
        OrderIn("O1", (ProcedureRequest("CT-CHEST"), ProcedureRequest("CT-HEAD"))),
        username="reg",
    ).exams
    ris.check_in(first.id, username="desk")
    ae = client_ae("CT01")
    ae.add_requested_context(ModalityPerformedProcedureStep)
    assoc = associate(ae, core)
    try:
        uid = generate_uid()
        status, _ = assoc.send_n_create(
            _create(first.accession_number), ModalityPerformedProcedureStep, uid
        )
        assert status.Status == 0x0000
        assert ris.exam(first.id).status == "in_progress"
        # The same instance again is a duplicate. The refusal comes back so fast that
        # pynetdicom's SCU reactor now and then takes it for an unexpected request and the
        # call times out empty (its race, seen once in six suite runs): asked again, it is
        # still a duplicate.
        for _ in range(2):
            status, _ = assoc.send_n_create(
                _create(first.accession_number), ModalityPerformedProcedureStep, uid
            )
            if "Status" in status:
                break
        assert status.Status == 0x0111
        status, _ = assoc.send_n_set(_set("COMPLETED"), ModalityPerformedProcedureStep, uid)
        assert status.Status == 0x0000
        assert ris.exam(first.id).status == "completed"
        assert ris.history(first.id)[-1].username == "mpps:CT01"
        # A completed step cannot change any more; an unknown one does not exist.
        status, _ = assoc.send_n_set(_set("DISCONTINUED"), ModalityPerformedProcedureStep, uid)
        assert status.Status == 0x0110
        status, _ = assoc.send_n_set(
            _set("COMPLETED"), ModalityPerformedProcedureStep, generate_uid()
        )
        assert status.Status == 0x0112
        # Matched by the worklist's Study Instance UID; discontinued -> arrived again.
        other = generate_uid()
        status, _ = assoc.send_n_create(
            _create("", second.study_instance_uid), ModalityPerformedProcedureStep, other
        )
        assert status.Status == 0x0000
        assert ris.exam(second.id).status == "in_progress"
        status, _ = assoc.send_n_set(_set("DISCONTINUED"), ModalityPerformedProcedureStep, other)
        assert status.Status == 0x0000
        assert ris.exam(second.id).status == "arrived"
    finally:
        assoc.release()


def test_unregistered_modality_may_not_report(core: RunningCore) -> None:
    ris = core.core.ris
    ris.register_patient(PatientIn("P1", "张三"), username="reg")
    exam = ris.place_order(
        "P1", "", OrderIn("O1", (ProcedureRequest("CT-CHEST"),)), username="reg"
    ).exams[0]
    ae = client_ae("STRANGER")
    ae.add_requested_context(ModalityPerformedProcedureStep)
    assoc = associate(ae, core)
    try:
        status, _ = assoc.send_n_create(
            _create(exam.accession_number), ModalityPerformedProcedureStep, generate_uid()
        )
        assert status.Status == 0x0124
    finally:
        assoc.release()
    assert ris.exam(exam.id).status == "scheduled"
