"""C-FIND answers' PDUs gathered into few sends (``dicom/answer_pdus.py``): the PDUs as
pynetdicom decodes them, and whole worklists read by pynetdicom and by dcmtk's findscu with a
small maximum PDU, answered the same as pynetdicom's own path answers."""

from __future__ import annotations

import socket
from datetime import datetime
from io import BytesIO
from pathlib import Path

import pytest
from pydicom import Dataset, dcmread
from pydicom.sequence import Sequence
from pynetdicom.dimse_messages import C_FIND_RSP
from pynetdicom.dsutils import decode
from pynetdicom.pdu import P_DATA_TF
from pynetdicom.pdu_primitives import P_DATA
from pynetdicom.sop_class import ModalityPerformedProcedureStep, ModalityWorklistInformationFind

from core_server.dicom import answers, commands
from core_server.dicom.answer_pdus import AnswerPdus
from core_server.ris import OrderIn, PatientIn, ProcedureRequest
from tests.conftest import RunningCore
from tests.core_server.dicom.clients import associate, client_ae, dcmtk, peer

MWL = "1.2.840.10008.5.1.4.31"
EXAMS = 24


def _answer(i: int) -> bytes:
    found = answers.Answer(
        elements=[(0x00100010, "PN", f"ZHANG^SAN{i}=张^三{i}"), (0x00100020, "LO", f"P{i:04d}")],
        charset=["ISO_IR 192"],
    )
    data = answers.encode(found, implicit=True)
    assert data is not None
    return data


def _read_pdus(sock: socket.socket) -> list[bytes]:
    stream = b""
    while chunk := sock.recv(1 << 16):
        stream += chunk
    pdus, offset = [], 0
    while offset < len(stream):
        length = int.from_bytes(stream[offset + 2 : offset + 6], "big")
        pdus.append(stream[offset : offset + 6 + length])
        offset += 6 + length
    return pdus


class _Counted:
    """A real socket whose sends are counted."""

    def __init__(self, sock: socket.socket) -> None:
        self.sock, self.sends = sock, 0

    def sendall(self, data: bytes) -> None:
        self.sends += 1
        self.sock.sendall(data)


@pytest.mark.parametrize("max_pdu", [0, 1024])
def test_answers_go_out_together_and_decode_as_pynetdicom_reads_them(max_pdu: int) -> None:
    split: list[tuple[bytes, bytes]] = []
    ours, theirs = socket.socketpair()
    with ours, theirs:
        counted = _Counted(ours)
        batch = AnswerPdus(
            counted,  # type: ignore[arg-type]
            5,
            max_pdu,
            lambda c, d: split.append((c, d)),
            flush_bytes=4096,
        )
        pending = commands.find_response(MWL, 7, 0xFF00, True)
        for i in range(40):
            batch.add(pending, _answer(i))
        batch.add(pending, b"x" * 2000)  # longer than a 1024-byte PDU: sent alone
        batch.add(commands.find_response(MWL, 7, 0x0000, False), b"")
        batch.flush()
        ours.shutdown(socket.SHUT_WR)
        pdus = _read_pdus(theirs)
    assert len(split) == (1 if max_pdu else 0)
    assert 2 <= counted.sends <= 6  # not one per answer (81 or 83 PDUs)
    message, names, statuses = C_FIND_RSP(), [], []
    for raw in pdus:
        pdu = P_DATA_TF()
        pdu.decode(raw)
        assert raw[0] == 0x04 and pdu.pdu_length == len(raw) - 6
        assert not max_pdu or pdu.pdu_length <= max_pdu
        (item,) = pdu.presentation_data_value_items  # one PDV per PDU, as before
        assert item.presentation_context_id == 5
        primitive = P_DATA()
        primitive.presentation_data_value_list = [[5, item.presentation_data_value]]
        if message.decode_msg(primitive):  # pynetdicom's own reassembly
            statuses.append(message.command_set.Status)
            data = message.data_set.getvalue() if message.data_set is not None else b""
            if data and data != b"x" * 2000:
                names.append(str(decode(BytesIO(data), True, True).PatientID))
            message = C_FIND_RSP()
    assert names == [f"P{i:04d}" for i in range(40)]
    assert statuses == [0xFF00] * (40 if max_pdu else 41) + [0x0000]


@pytest.fixture
def worklist(core: RunningCore) -> str:
    core.register("CT01")
    ris = core.core.ris
    now = datetime.now().replace(microsecond=0)
    for i in range(EXAMS):
        ris.register_patient(PatientIn(f"P{i}", f"欧阳{'娜' * (1 + i % 3)}", sex="F"), username="r")
        request = ProcedureRequest("CT-CHEST", room="CT1", scheduled_at=now)
        ris.place_order(f"P{i}", "", OrderIn(f"O{i}", (request,)), username="r")
    return now.strftime("%Y%m%d")


def _query(day: str) -> Dataset:
    ds = Dataset()
    ds.SpecificCharacterSet = "ISO_IR 192"
    ds.PatientName = ds.PatientID = ds.AccessionNumber = ds.StudyInstanceUID = ""
    step = Dataset()
    step.ScheduledStationAETitle = "CT01"
    step.ScheduledProcedureStepStartDate = day
    step.ScheduledProcedureStepDescription = step.Modality = ""
    ds.ScheduledProcedureStepSequence = Sequence([step])
    return ds


def _pynetdicom(core: RunningCore, day: str, *, with_mpps: bool) -> list[Dataset]:
    ae = client_ae("CT01")
    ae.maximum_pdu_size = 4096  # a few answers per PDU
    ae.add_requested_context(ModalityWorklistInformationFind)
    if with_mpps:  # pynetdicom's path serves the association
        ae.add_requested_context(ModalityPerformedProcedureStep)
    assoc = associate(ae, core)
    try:
        return [
            answer
            for status, answer in assoc.send_c_find(_query(day), ModalityWorklistInformationFind)
            if status.Status == 0xFF00
        ]
    finally:
        assoc.release()
        ae.shutdown()


def test_a_day_of_answers_read_by_pynetdicom_and_findscu(
    core: RunningCore, worklist: str, tmp_path: Path
) -> None:
    direct = _pynetdicom(core, worklist, with_mpps=False)
    assert len(direct) == EXAMS
    by_accession = {a.AccessionNumber: a for a in _pynetdicom(core, worklist, with_mpps=True)}
    for answer in direct:  # the same data sets as pynetdicom's path answers
        assert answer == by_accession[answer.AccessionNumber]
    assert {str(a.PatientName.ideographic) for a in direct} == {
        "欧阳^娜",
        "欧阳^娜娜",
        "欧阳^娜娜娜",
    }
    folder = tmp_path / "findscu"
    folder.mkdir()
    args = ["findscu", "-W", "-X", "-od", str(folder), "-aet", "CT01", "--max-pdu", "4096"]
    for key in ("PatientName", "AccessionNumber", "ScheduledProcedureStepSequence[0].Modality"):
        args += ["-k", key]
    args += ["-k", f"ScheduledProcedureStepSequence[0].ScheduledProcedureStepStartDate={worklist}"]
    dcmtk(*args, *peer(core))
    found = [dcmread(p) for p in sorted(folder.glob("rsp*.dcm"))]
    assert sorted(a.AccessionNumber for a in found) == sorted(by_accession)
