"""Inbound mapping: ADT, ORM and OMI messages onto calls of the RIS.

This adapter translates and decides nothing: the RIS owns registration, merging, orders and
their rules (and propagates patient changes to the worklist and the stored images, IHE PIR).
Which fields are read is written next to each reader and in ``docs/hl7.md``.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass

import hl7

from core_server.hl7.errors import MessageError
from core_server.hl7.message import (
    Header,
    parse_date,
    parse_datetime,
    repetitions,
    segments,
    value,
)
from core_server.names import NameGroup, PersonName
from core_server.ris import (
    Conflict,
    IllegalTransition,
    NotFound,
    OrderIn,
    PatientIn,
    Priority,
    ProcedureRequest,
    Ris,
    RisError,
    VisitIn,
)

# PID-3 identifier type codes (HL7 table 0203) that carry the resident ID card number.
_ID_CARD_TYPES = {"NI", "NNCHN", "ID", "CZ"}
# HL7 PV1-2 patient class -> RIS patient class.
_PATIENT_CLASS = {"O": "outpatient", "I": "inpatient", "E": "emergency", "P": "physical_exam"}
# HL7 priority (TQ1-9 / ORC-7.6 / OBR-27.6, table 0485) -> DICOM priority.
_PRIORITY = {
    "S": Priority.STAT,
    "A": Priority.HIGH,
    "P": Priority.HIGH,
    "T": Priority.HIGH,
    "C": Priority.MEDIUM,
    "R": Priority.ROUTINE,
}
_CJK = re.compile(r"[\u3400-\u9fff\uf900-\ufaff]")


def _has_cjk(text: str) -> bool:
    return bool(_CJK.search(text))


class Mapping:
    """The ``Apply`` of :class:`~core_server.hl7.inbound.Receiver`: one message -> RIS calls."""

    def __init__(
        self,
        ris: Ris,
        more: dict[tuple[str, str], Callable[[hl7.Message, Header], str]] | None = None,
    ) -> None:
        self.ris = ris
        self._handlers: dict[tuple[str, str], Callable[[hl7.Message, Header], str]] = {
            ("ADT", "A01"): self._register,
            ("ADT", "A04"): self._register,
            ("ADT", "A05"): self._register,
            ("ADT", "A28"): self._register,
            ("ADT", "A08"): self._update,
            ("ADT", "A31"): self._update,
            ("ADT", "A40"): self._merge,
            ("ADT", "A03"): self._discharge,
            ("ADT", "A11"): self._cancel_visit,
            ("ADT", "A13"): self._cancel_discharge,
            ("ORM", "O01"): self._orders,
            ("OMI", "O23"): self._orders,
            # Other domains' messages (ORU^R01 pathology results: hl7/pathology.py).
            **(more or {}),
        }

    def __call__(self, message: hl7.Message, header: Header) -> str:
        handler = self._handlers.get((header.message_code, header.trigger_event))
        if handler is None:
            known = {code for code, _event in self._handlers}
            if header.message_code not in known:
                raise MessageError(
                    "AR", "200", f"unsupported message type {header.message_code}", "MSH^1^9"
                )
            raise MessageError(
                "AR", "201", f"unsupported event {header.message_type}", "MSH^1^9^1^2"
            )
        try:
            return handler(message, header)
        except MessageError:
            raise
        except NotFound as exc:
            raise MessageError("AE", "204", str(exc)) from None
        except IllegalTransition as exc:
            raise MessageError("AE", "207", str(exc)) from None
        except Conflict as exc:
            raise MessageError("AE", "205", str(exc)) from None
        except RisError as exc:
            raise MessageError("AE", "102", str(exc)) from None

    # -- ADT ----------------------------------------------------------------------------------

    def _register(self, message: hl7.Message, header: Header) -> str:
        patient = self._patient(message)
        registered = self.ris.register_patient(patient, username=_user(header))
        visit = self._visit(message)
        if visit is not None:
            self.ris.create_visit(
                registered.patient_id, registered.issuer, visit, username=_user(header)
            )
        return f"patient {registered.patient_id} registered"

    def _update(self, message: hl7.Message, header: Header) -> str:
        patient = self._patient(message)
        try:
            self.ris.update_patient(
                patient.patient_id, patient.issuer, patient, username=_user(header)
            )
        except NotFound:
            # An update of a patient we never heard of registers it (HIS registered it while
            # the interface was down); nothing is lost and the next order finds the patient.
            self.ris.register_patient(patient, username=_user(header))
        visit = self._visit(message)
        if visit is not None:
            self.ris.create_visit(patient.patient_id, patient.issuer, visit, username=_user(header))
        return f"patient {patient.patient_id} updated"

    def _merge(self, message: hl7.Message, header: Header) -> str:
        """A40: each PID (surviving patient) is followed by its MRG (MRG-1: the patient merged
        away, with its assigning authority in MRG-1.4)."""
        pairs: list[tuple[PatientIn, tuple[str, str]]] = []
        current: PatientIn | None = None
        for index, segment in enumerate(message, start=1):
            kind = str(segment[0])
            if kind == "PID":
                current = self._patient_from(segment, f"PID^{index}")
            elif kind == "MRG":
                if current is None:
                    raise MessageError("AR", "100", "MRG without a PID before it", "MRG")
                prior = (value(segment, "", 1, 1, 1), value(segment, "", 1, 1, 4))
                if not prior[0]:
                    raise MessageError(
                        "AR", "101", "MRG-1 (prior patient identifier) is empty", "MRG^1^1"
                    )
                pairs.append((current, prior))
        if not pairs:
            raise MessageError("AR", "100", "A40 without an MRG segment", "MRG")
        for surviving, prior in pairs:
            if (surviving.patient_id, surviving.issuer) == prior:
                raise MessageError(
                    "AE",
                    "207",
                    f"patient {surviving.patient_id} cannot be merged into itself "
                    "(MRG-1 names the patient of PID-3)",
                    "MRG^1^1",
                )
            try:
                self.ris.patient(surviving.patient_id, surviving.issuer)
            except NotFound:
                # A40 to a new identifier (IHE PAM): the surviving patient is registered from
                # PID first, then the prior one is merged into it.
                self.ris.register_patient(surviving, username=_user(header))
            self.ris.merge_patients(
                (surviving.patient_id, surviving.issuer), prior, username=_user(header)
            )
        return "; ".join(f"{p[1][0]} merged into {p[0].patient_id}" for p in pairs)

    def _discharge(self, message: hl7.Message, header: Header) -> str:
        number = self._visit_number(message)
        self.ris.discharge_visit(number, username=_user(header))
        return f"visit {number} discharged"

    def _cancel_visit(self, message: hl7.Message, header: Header) -> str:
        number = self._visit_number(message)
        reason = value(message, "EVN", 4)
        self.ris.cancel_visit(number, username=_user(header), reason=reason or "HL7 A11")
        return f"visit {number} cancelled"

    def _cancel_discharge(self, message: hl7.Message, header: Header) -> str:
        number = self._visit_number(message)
        self.ris.cancel_discharge(number, username=_user(header))
        return f"discharge of visit {number} cancelled"

    # -- orders -------------------------------------------------------------------------------

    def _orders(self, message: hl7.Message, header: Header) -> str:
        """ORM^O01 (v2.3.1, IHE SWF) and OMI^O23 (v2.5): ORC + OBR (+ TQ1, IPC, ZDS) groups.
        Groups with the same order control and placer order number are one order with several
        requested procedures."""
        groups = _order_groups(message)
        if not groups:
            raise MessageError("AR", "100", f"{header.message_type} without ORC/OBR", "ORC")
        orders: dict[tuple[str, str, str], list[_OrderGroup]] = {}
        for group in groups:
            control = value(group.orc, "", 1).upper()
            placer = value(group.orc, "", 2) or (
                value(group.obr, "", 2) if group.obr is not None else ""
            )
            filler = value(group.orc, "", 3) or (
                value(group.obr, "", 3) if group.obr is not None else ""
            )
            orders.setdefault((control, placer, filler), []).append(group)
        notes = []
        for (control, placer, filler), order_groups in orders.items():
            where = f"ORC^{order_groups[0].index}"
            application = value(order_groups[0].orc, "", 2, 1, 2) or header.sending_application
            if control == "NW":
                notes.append(self._new_order(message, header, order_groups, application))
            elif control == "XO":
                order = self._order_in(message, order_groups, application, where)
                self.ris.change_order(order, username=_user(header))
                notes.append(f"order {placer} changed")
            elif control in ("CA", "DC", "OC"):
                if not placer and not filler:
                    raise MessageError(
                        "AR", "101", "ORC-2/ORC-3 (order number) is empty", f"{where}^2"
                    )
                self.ris.cancel_order(
                    placer_order_number=placer,
                    placer_application=application if placer else "",
                    filler_order_number=filler,
                    username=_user(header),
                    reason=value(order_groups[0].orc, "", 16, 1, 2)
                    or value(order_groups[0].orc, "", 16)
                    or f"HL7 {control}",
                )
                notes.append(f"order {placer or filler} cancelled")
            else:
                raise MessageError(
                    "AR", "103", f"unsupported order control {control!r}", f"{where}^1"
                )
        return "; ".join(notes)

    def _new_order(
        self, message: hl7.Message, header: Header, groups: list[_OrderGroup], application: str
    ) -> str:
        if not segments(message, "PID"):
            raise MessageError("AR", "100", "a new order needs the PID segment", "PID")
        patient = self.ris.register_patient(self._patient(message), username=_user(header))
        visit = self._visit(message)
        if visit is not None:  # the order's visit, known or not yet (PV1 travels with ORM/OMI)
            self.ris.create_visit(patient.patient_id, patient.issuer, visit, username=_user(header))
        order = self._order_in(message, groups, application, f"ORC^{groups[0].index}")
        placed = self.ris.place_order(
            patient.patient_id, patient.issuer, order, username=_user(header)
        )
        accessions = ", ".join(exam.accession_number for exam in placed.exams)
        return f"order {placed.placer_order_number} placed ({accessions})"

    def _order_in(
        self, message: hl7.Message, groups: list[_OrderGroup], application: str, where: str
    ) -> OrderIn:
        first = groups[0]
        placer = value(first.orc, "", 2) or _obr(first, 2)
        if not placer:
            raise MessageError("AR", "101", "ORC-2 (placer order number) is empty", f"{where}^2")
        priority_code = (
            _tq1(first, 9) or value(first.orc, "", 7, 1, 6) or _obr(first, 27, component=6)
        ).upper()[:1]
        priority = _PRIORITY.get(priority_code, Priority.ROUTINE)
        referring = _person(first.orc, 12) or (
            _person(first.obr, 16) if first.obr is not None else ""
        )
        department = value(first.orc, "", 17, 1, 2) or value(first.orc, "", 17)
        clinical = [
            _obr(first, 31, component=2) or _obr(first, 31),
            _obr(first, 13),
        ]
        return OrderIn(
            placer_order_number=placer,
            placer_application=application,
            filler_order_number=value(first.orc, "", 3) or _obr(first, 3),
            visit_number=value(message, "PV1", 19),
            referring_physician=referring,
            referring_department=department,
            clinical_info="; ".join(text for text in clinical if text),
            priority=priority,
            emergency=priority == Priority.STAT or value(message, "PV1", 2).upper() == "E",
            bedside=_obr(first, 30).upper() == "PORT",
            procedures=tuple(_procedure(group) for group in groups),
        )

    # -- segments -> RIS inputs ---------------------------------------------------------------

    def _patient(self, message: hl7.Message) -> PatientIn:
        found = segments(message, "PID")
        if not found:
            raise MessageError("AR", "100", "the PID segment is missing", "PID")
        index = next(i for i, s in enumerate(message, start=1) if str(s[0]) == "PID")
        return self._patient_from(found[0], f"PID^{index}")

    @staticmethod
    def _patient_from(pid: hl7.Segment, where: str) -> PatientIn:
        where = where.split("^")[0] + "^1"
        patient_id, issuer, id_card = "", "", ""
        for repetition in range(1, repetitions(pid, 3) + 1):
            number = value(pid, "", 3, repetition, 1)
            kind = value(pid, "", 3, repetition, 5).upper()
            if kind in _ID_CARD_TYPES:
                id_card = id_card or number
            elif number and not patient_id:
                patient_id, issuer = number, value(pid, "", 3, repetition, 4)
        if not patient_id:  # HL7 v2.3 senders may use PID-2 (external ID) only
            patient_id, issuer = value(pid, "", 2, 1, 1), value(pid, "", 2, 1, 4)
        if not patient_id:
            raise MessageError("AR", "101", "PID-3 (patient identifier) is empty", f"{where}^3")
        id_card = id_card or (value(pid, "", 19) if len(value(pid, "", 19)) == 18 else "")
        name, pinyin = "", ""
        for repetition in range(1, repetitions(pid, 5) + 1):
            written, representation = _xpn(pid, repetition)
            if not written:
                continue
            if representation == "I" or (representation != "A" and _has_cjk(written)):
                name = name or written
            else:
                pinyin = pinyin or written
        if not name and not pinyin:
            raise MessageError("AR", "101", "PID-5 (patient name) is empty", f"{where}^5")
        sex = value(pid, "", 8).upper()[:1]
        return PatientIn(
            patient_id=patient_id,
            issuer=issuer,
            name=name or pinyin,
            name_pinyin=pinyin if name else "",
            id_card_number=id_card,
            birth_date=parse_date(value(pid, "", 7), f"{where}^7"),
            sex={"M": "M", "F": "F", "O": "O", "A": "O"}.get(sex, ""),
            phone=value(pid, "", 13, 1, 1) or value(pid, "", 13, 1, 12),
            address=_address(pid),
        )

    @staticmethod
    def _visit(message: hl7.Message) -> VisitIn | None:
        pv1 = segments(message, "PV1")
        if not pv1 or not value(pv1[0], "", 19):
            return None
        visit = pv1[0]
        kind = value(visit, "", 2).upper()
        return VisitIn(
            visit_number=value(visit, "", 19),
            patient_class=_PATIENT_CLASS.get(kind, "outpatient"),
            department=value(visit, "", 10) or value(visit, "", 3, 1, 1),
            ward=value(visit, "", 3, 1, 1),
            bed=value(visit, "", 3, 1, 3),
            attending_doctor=_person(visit, 7),
            admitted_at=parse_datetime(value(visit, "", 44), "PV1^1^44"),
        )

    @staticmethod
    def _visit_number(message: hl7.Message) -> str:
        number = value(message, "PV1", 19)
        if not number:
            raise MessageError("AR", "101", "PV1-19 (visit number) is empty", "PV1^1^19")
        return number


@dataclass
class _OrderGroup:
    index: int  # the ORC's position in the message, for ERR locations
    orc: hl7.Segment
    obr: hl7.Segment | None = None
    tq1: hl7.Segment | None = None
    ipc: hl7.Segment | None = None
    zds: hl7.Segment | None = None


def _order_groups(message: hl7.Message) -> list[_OrderGroup]:
    groups: list[_OrderGroup] = []
    for index, segment in enumerate(message, start=1):
        kind = str(segment[0])
        if kind == "ORC":
            groups.append(_OrderGroup(index, segment))
        elif not groups:
            continue
        elif kind == "OBR":
            if groups[-1].obr is not None:  # a second OBR under one ORC: its own procedure
                groups.append(_OrderGroup(groups[-1].index, groups[-1].orc, tq1=groups[-1].tq1))
            groups[-1].obr = segment
        elif kind == "TQ1" and groups[-1].tq1 is None:
            groups[-1].tq1 = segment
        elif kind == "IPC" and groups[-1].ipc is None:
            groups[-1].ipc = segment
        elif kind == "ZDS" and groups[-1].zds is None:
            groups[-1].zds = segment
        # Other segments (NTE, DG1...) carry nothing the RIS takes.
    return groups


def _obr(group: _OrderGroup, field_number: int, component: int = 1) -> str:
    return value(group.obr, "", field_number, 1, component) if group.obr is not None else ""


def _tq1(group: _OrderGroup, field_number: int, component: int = 1) -> str:
    return value(group.tq1, "", field_number, 1, component) if group.tq1 is not None else ""


def _ipc(group: _OrderGroup, field_number: int) -> str:
    return value(group.ipc, "", field_number) if group.ipc is not None else ""


def _zds(group: _OrderGroup, field_number: int) -> str:
    return value(group.zds, "", field_number, 1, 1) if group.zds is not None else ""


def _procedure(group: _OrderGroup) -> ProcedureRequest:
    """OBR-4 is the exam item code of the catalogue; OMI's IPC (IHE RAD-4 v2.5) or ORM's
    OBR-18/19 (IHE SWF v2.3.1) may bring the accession number and requested procedure ID,
    OBR-24 the modality; the scheduled time is TQ1-7, OBR-36 or ORC-7.4."""
    where = f"OBR^{group.index}"
    if group.obr is None:
        raise MessageError("AR", "100", "ORC without its OBR", where)
    code = _obr(group, 4)
    if not code:
        raise MessageError("AR", "101", "OBR-4 (universal service ID) is empty", f"{where}^4")
    scheduled_text = _tq1(group, 7) or _obr(group, 36) or value(group.orc, "", 7, 1, 4)
    return ProcedureRequest(
        procedure_code=code,
        accession_number=_ipc(group, 1) or _obr(group, 18),
        requested_procedure_id=_ipc(group, 2) or _obr(group, 19),
        modality=_ipc(group, 5) or _obr(group, 24),
        station_ae=_ipc(group, 9),
        room=_ipc(group, 8),
        scheduled_at=parse_datetime(scheduled_text, f"{where}^36"),
        notes=_obr(group, 13),
        # IHE SWF: the placer may assign the study's UID (OMI IPC-3; ORM ZDS-1 UID^^App^DICOM).
        study_instance_uid=_ipc(group, 3) or _zds(group, 1),
    )


def _xpn(pid: hl7.Segment, repetition: int) -> tuple[str, str]:
    """One repetition of PID-5 as given, its components in the order the RIS reads them
    (family^given^middle^prefix^suffix: XPN has suffix before prefix), and its XPN-8 (name
    representation: I ideographic, A alphabetic)."""
    parts = [value(pid, "", 5, repetition, n) for n in range(1, 9)]
    group = NameGroup(parts[0], parts[1], parts[2], prefix=parts[4], suffix=parts[3])
    return group.components(), parts[7].upper()


def _person(segment: hl7.Segment | None, field_number: int) -> str:
    """An XCN (ID^family^given...) as the name a person reads: 王医生, John Smith, or the ID
    alone."""
    if segment is None:
        return ""
    family = value(segment, "", field_number, 1, 2)
    given = value(segment, "", field_number, 1, 3)
    if family:
        return PersonName.of(family, given).display()
    return value(segment, "", field_number, 1, 1)


def _address(pid: hl7.Segment) -> str:
    """PID-11 (XAD: street^other^city^province^zip^country) in the order a Chinese address is
    written, province first."""
    street, other, city, province = (value(pid, "", 11, 1, n) for n in (1, 2, 3, 4))
    parts = [province, city, street, other]
    if _has_cjk("".join(parts)):
        return "".join(part for part in parts if part)
    return ", ".join(part for part in (street, other, city, province) if part)


def _user(header: Header) -> str:
    return f"hl7:{header.sending_application or 'unknown'}"
