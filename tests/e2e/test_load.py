"""Twenty modalities storing at once while a workstation queries: every request is served."""

from __future__ import annotations

import threading

from pydicom import Dataset
from pydicom.uid import ExplicitVRLittleEndian, generate_uid
from pynetdicom import AE
from pynetdicom.sop_class import CTImageStorage, StudyRootQueryRetrieveInformationModelFind

from tests.conftest import RunningCore
from tests.dicom_data import make_ct

SENDERS = 20
PER_SENDER = 15


def sender(core: RunningCore, number: int, statuses: list[int]) -> None:
    ae = AE(ae_title=f"MOD{number:02d}")
    ae.add_requested_context(CTImageStorage, ExplicitVRLittleEndian)
    assoc = ae.associate("127.0.0.1", core.dicom_port, ae_title=core.ae_title)
    assert assoc.is_established
    study = generate_uid()
    for instance in range(1, PER_SENDER + 1):
        ds = make_ct(study_uid=study, patient_id=f"LOAD{number:02d}", instance_number=instance)
        status = assoc.send_c_store(ds)
        statuses.append(status.Status if status else -1)
    assoc.release()


def querier(core: RunningCore, stop: threading.Event, answers: list[int], failures: list[str]):
    ae = AE(ae_title="VIEWER")
    ae.add_requested_context(StudyRootQueryRetrieveInformationModelFind)
    assoc = ae.associate("127.0.0.1", core.dicom_port, ae_title=core.ae_title)
    assert assoc.is_established
    query = Dataset()
    query.QueryRetrieveLevel = "STUDY"
    query.PatientID = "LOAD*"
    query.StudyInstanceUID = ""
    query.NumberOfStudyRelatedInstances = ""
    rounds = 0
    while not stop.is_set() and rounds < 2000:
        rounds += 1
        results = list(assoc.send_c_find(query, StudyRootQueryRetrieveInformationModelFind))
        final = results[-1][0]
        if final is None or final.Status != 0x0000:
            failures.append(repr(final))
        answers.append(len(results) - 1)
    assoc.release()


def test_twenty_associations_store_while_queries_run(core: RunningCore) -> None:
    core.register("VIEWER")
    statuses: list[int] = []
    answers: list[int] = []
    failures: list[str] = []
    stop = threading.Event()
    query_thread = threading.Thread(target=querier, args=(core, stop, answers, failures))
    query_thread.start()
    senders = [threading.Thread(target=sender, args=(core, n, statuses)) for n in range(SENDERS)]
    for thread in senders:
        thread.start()
    for thread in senders:
        thread.join(timeout=120)
    stop.set()
    query_thread.join(timeout=60)

    assert statuses == [0x0000] * (SENDERS * PER_SENDER)
    assert not failures
    assert len(answers) >= 3, "queries were served during the load"
    assert core.core.archive.statistics()["instances"] == SENDERS * PER_SENDER
    assert core.core.archive.count("STUDY", {"PatientID": "LOAD*"}) == SENDERS
