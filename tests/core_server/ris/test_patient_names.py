"""Patient names on SQLite and PostgreSQL: kept as received (HL7 ``王^建国``, DICOM-shaped,
typed), shown without a ``^`` everywhere the RIS answers, sent to modalities as the DICOM
Person Name; found by full name, name prefix, full pinyin, pinyin prefix and initials whichever
way the patient came in; likely duplicates named before a new patient is registered."""

from __future__ import annotations

from datetime import date

import pytest

from core_server.ris import Conflict, OrderIn, PatientIn, ProcedureRequest, Ris

CARD = "11010519491231002X"  # born 1949-12-31, female


def _register(ris: Ris, patient_id: str, name: str, **extra: object):
    return ris.register_patient(PatientIn(patient_id, name, **extra), username="hl7:HIS")  # type: ignore[arg-type]


def _exam(ris: Ris, patient_id: str):
    placed = ris.place_order(
        patient_id,
        "",
        OrderIn(f"O-{patient_id}", (ProcedureRequest("CT-CHEST", room="CT1"),)),
        username="hl7:HIS",
    )
    return placed.exams[0]


def test_an_hl7_name_is_kept_and_shown_without_carets(ris: Ris) -> None:
    wang = _register(ris, "H1", "王^建国")
    assert (wang.name, wang.name_pinyin) == ("王^建国", "WANG^JIANGUO")  # as received
    assert wang.display_name == "王建国"
    assert wang.dicom_name == "WANG^JIANGUO=王^建国"
    shown = wang.as_dict()
    assert (shown["display_name"], shown["pinyin_display"]) == ("王建国", "WANG JIANGUO")
    assert (shown["name_family"], shown["name_given"]) == ("王", "建国")
    exam = _exam(ris, "H1")
    assert exam.patient_display_name == "王建国"
    listed = ris.exams(patient_id="H1")[0].as_dict()
    assert listed["patient_display_name"] == "王建国"
    assert listed["patient_pinyin_display"] == "WANG JIANGUO"
    assert listed["patient_name"] == "王^建国"  # what other domains read, as before
    # The worklist and MPPS send the DICOM form to modalities.
    (item,) = ris.worklist({"AccessionNumber": exam.accession_number})
    assert item.attributes["PatientName"] == "WANG^JIANGUO=王^建国"
    assert item.ascii_attributes["PatientName"] == "WANG^JIANGUO"
    # The order's exams carry the forms too.
    order = ris.order(placer_order_number="O-H1").as_dict()
    assert order["exams"][0]["patient_display_name"] == "王建国"


def test_a_dicom_shaped_name_is_stored_as_components_and_pinyin(ris: Ris) -> None:
    zhang = _register(ris, "D1", "ZHANG^SANFENG=张^三丰")
    assert (zhang.name, zhang.name_pinyin, zhang.display_name) == (
        "张^三丰",
        "ZHANG^SANFENG",
        "张三丰",
    )
    assert zhang.dicom_name == "ZHANG^SANFENG=张^三丰"


def test_a_typed_name_keeps_what_the_registrar_typed(ris: Ris) -> None:
    uyghur = _register(ris, "U1", "买买提·艾力")
    assert (uyghur.name, uyghur.display_name) == ("买买提·艾力", "买买提·艾力")  # the dot stays
    assert uyghur.name_pinyin == "MAIMAITI^AILI"  # each part spelled, no family-name reading
    assert uyghur.dicom_name == "MAIMAITI^AILI=买买提·艾力"
    # The registrar corrects the pinyin: kept as typed (family first), and found by it.
    corrected = _register(ris, "U1", "买买提·艾力", name_pinyin="maimaiti aili jan")
    assert corrected.name_pinyin == "MAIMAITI^AILIJAN"
    assert [p.patient_id for p in ris.find_patients(text="maimaitiailij")] == ["U1"]
    assert _register(ris, "T1", "John Smith").display_name == "John Smith"


def test_the_desk_resubmitting_a_shown_name_keeps_what_the_his_sent(ris: Ris) -> None:
    _register(ris, "H2", "单^雪梅", name_pinyin="SHAN^XUEMEI")
    _register(ris, "H2", "单^雪梅", name_pinyin="SHAN^XUEMEI")
    # The desk shows 单雪梅 and sends it back with another field changed.
    again = _register(ris, "H2", "单雪梅", phone="13800138000")
    assert (again.name, again.phone) == ("单^雪梅", "13800138000")
    # A corrected pinyin survives an HL7 update that sends none.
    _register(ris, "H2", "单雪梅", name_pinyin="SHEN XUE MEI")  # the desk's correction
    kept = _register(ris, "H2", "单^雪梅")
    assert kept.name_pinyin == "SHEN^XUEMEI"
    # A real change of name is a change.
    assert _register(ris, "H2", "单雪").name == "单雪"


@pytest.mark.parametrize(
    "received",
    ["单^雪梅", "SHAN^XUEMEI=单^雪梅", "单雪梅", "单 雪梅"],
    ids=["hl7", "dicom", "typed", "spaced"],
)
def test_search_finds_the_patient_whichever_way_they_came_in(ris: Ris, received: str) -> None:
    _register(ris, "S1", received, phone="13912345678", birth_date=date(1980, 5, 4))
    _register(ris, "S2", "单田芳")
    for text in ("单雪梅", "单雪", "shanxuemei", "shanx", "SHAN XUE", "sxm", "S1", "13912345678"):
        assert [p.patient_id for p in ris.find_patients(text=text)] == ["S1"], text
    assert {p.patient_id for p in ris.find_patients(text="单")} == {"S1", "S2"}
    found = ris.find_patients(name="单雪梅", birth_date=date(1980, 5, 4))
    assert [p.patient_id for p in found] == ["S1"]
    assert [p.patient_id for p in ris.find_patients(name="shan xuemei")] == ["S1"]
    # The desk's exam list searches the same way.
    exam = _exam(ris, "S1")
    assert [e.id for e in ris.exams(text="shanx")] == [exam.id]


def test_a_likely_duplicate_is_named_before_a_new_patient_is_registered(ris: Ris) -> None:
    _register(ris, "H3", "李^小红", birth_date=date(1990, 1, 2), phone="13800138000")
    _register(ris, "H4", "赵六", id_card_number=CARD)
    cases = {
        "same name and birth date": PatientIn("N1", "李小红", birth_date=date(1990, 1, 2)),
        "same ID card": PatientIn("N2", "赵陆", id_card_number=CARD),
        "same phone and name": PatientIn("N3", "李小红", phone="138 0013 8000"),
    }
    for why, patient in cases.items():
        with pytest.raises(Conflict) as refused:
            ris.register_patient(patient, username="desk", check_duplicates=True)
        assert refused.value.code == "ris.patient.likely_duplicate", why
        candidates = refused.value.values["candidates"]
        assert [c["patient_id"] for c in candidates] == (["H4"] if "card" in why else ["H3"]), why
        assert candidates[0]["display_name"] in ("李小红", "赵六")
        assert ris.likely_duplicates(patient)[0].patient_id == candidates[0]["patient_id"]
    # Not alike enough: registered; the desk's confirmation registers a duplicate too.
    other = PatientIn("N4", "李小红", birth_date=date(1991, 1, 2))
    assert ris.register_patient(other, username="desk", check_duplicates=True).patient_id == "N4"
    confirmed = ris.register_patient(cases["same ID card"], username="desk")
    assert confirmed.patient_id == "N2"
    # Updating a known patient is no duplicate of itself; the HIS is never asked.
    again = PatientIn("H3", "李小红", birth_date=date(1990, 1, 2))
    assert ris.register_patient(again, username="desk", check_duplicates=True).name == "李^小红"
