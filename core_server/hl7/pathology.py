"""Inbound mapping of pathology results: ORU^R01 from the pathology system (病理系统) onto the
follow-up service. One result per OBR: its numbers (OBR-3 filler, OBR-2 placer, the ORC's,
OBR-18/19), the patient (PID-3, PID-5), the observation time (OBR-7) and the text of its OBX
segments (OBX-5 of every value type that is text: TX, FT, ST, CE/CWE's text), each led by its
OBX-3 label (大体所见, 病理诊断...). Matching the result to an exam is the follow-up domain's
rule (:mod:`core_server.followup.matching`); an unmatched result is kept there and the
message is accepted (AA): the pathology system must not resend it for ever."""

from __future__ import annotations

from dataclasses import dataclass, field

import hl7

from core_server.followup import Followup, PathologyIn
from core_server.hl7.errors import MessageError
from core_server.hl7.message import Header, parse_datetime, repetitions, value
from core_server.names import PersonName

_TEXT_TYPES = {"TX", "FT", "ST", "CE", "CWE", ""}


@dataclass
class _Group:
    index: int
    obr: hl7.Segment
    orc: hl7.Segment | None
    obxs: list[hl7.Segment] = field(default_factory=list)


class PathologyResults:
    """The handler of ORU^R01 that :class:`~core_server.hl7.mapping.Mapping` dispatches to."""

    def __init__(self, followup: Followup) -> None:
        self.followup = followup

    def apply(self, message: hl7.Message, header: Header) -> str:
        groups = _groups(message)
        if not groups:
            raise MessageError("AR", "100", "ORU^R01 without OBR", "OBR")
        pid = next((s for s in message if str(s[0]) == "PID"), None)
        patient_id = value(pid, "", 3, 1, 1) if pid is not None else ""
        patient_name = ""
        if pid is not None and value(pid, "", 5, 1, 1):
            patient_name = PersonName.of(value(pid, "", 5, 1, 1), value(pid, "", 5, 1, 2)).display()
        notes = []
        for group in groups:
            text = _text(group)
            if not text:
                raise MessageError(
                    "AR", "101", "OBX-5 (the pathology result) is empty", f"OBR^{group.index}"
                )
            placer = value(group.orc, "", 2) if group.orc is not None else ""
            filler = value(group.orc, "", 3) if group.orc is not None else ""
            numbers = (
                value(group.obr, "", 3),
                value(group.obr, "", 2),
                filler,
                placer,
                value(group.obr, "", 18),
                value(group.obr, "", 19),
            )
            kept = self.followup.receive_pathology(
                PathologyIn(
                    text=text,
                    numbers=tuple(n for n in numbers if n),
                    placer_number=value(group.obr, "", 2) or placer,
                    placer_application=value(group.obr, "", 2, 1, 2)
                    or (value(group.orc, "", 2, 1, 2) if group.orc is not None else ""),
                    filler_number=value(group.obr, "", 3) or filler,
                    patient_id=patient_id,
                    patient_name=patient_name,
                    observed_at=parse_datetime(value(group.obr, "", 7), f"OBR^{group.index}^7"),
                    sender=header.sending_application,
                    control_id=header.control_id,
                )
            )
            if kept.exam_id is None:
                notes.append(f"pathology result {kept.id} kept unmatched")
            else:
                notes.append(f"pathology result {kept.id} for exam {kept.exam_id}")
        return "; ".join(notes)


def _groups(message: hl7.Message) -> list[_Group]:
    groups: list[_Group] = []
    orc: hl7.Segment | None = None
    for index, segment in enumerate(message, start=1):
        kind = str(segment[0])
        if kind == "ORC":
            orc = segment
        elif kind == "OBR":
            groups.append(_Group(index, segment, orc))
        elif kind == "OBX" and groups:
            groups[-1].obxs.append(segment)
    return groups


def _text(group: _Group) -> str:
    lines = []
    for obx in group.obxs:
        kind = value(obx, "", 2).upper()
        if kind not in _TEXT_TYPES:
            continue
        component = 2 if kind in ("CE", "CWE") else 1
        parts = [value(obx, "", 5, n, component) for n in range(1, repetitions(obx, 5) + 1)]
        body = "\n".join(p for p in parts if p)
        if not body:
            continue
        label = value(obx, "", 3, 1, 2)
        lines.append(f"{label}：{body}" if label else body)
    return "\n".join(lines)
