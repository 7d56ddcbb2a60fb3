"""Rule matching on SQLite and PostgreSQL: each condition (modality, source AE, SOP class,
study description pattern, the RIS exam's department) narrows what a rule queues; disabled
rules and destinations queue nothing; corrected objects go again to rules that ask for
changes; applying a rule queues the stored objects its destination has not had."""

from __future__ import annotations

from pathlib import Path

from pydicom.uid import generate_uid

from core_server.ris import OrderIn, PatientIn, ProcedureRequest, Ris
from core_server.storage.forwarding import config, queue
from core_server.storage.forwarding.match import Facts, matches
from tests.core_server.storage.forwarding.conftest import Source, dicom_destination, rule_to
from tests.dicom_data import make_ct

MR = "1.2.840.10008.5.1.4.1.1.4"


def _queued(source: Source, rule: config.Rule) -> set[str]:
    """What waits for the rule's destination."""
    return {
        t["sop_instance_uid"]
        for t in queue.listed(source.engine)
        if t["destination_id"] == rule.destination_id
    }


def _rule(source: Source, name: str, **conditions: str) -> config.Rule:
    """A rule to a destination of its own."""
    port = len(config.destinations(source.engine)) + 1
    return rule_to(source.engine, dicom_destination(source.engine, port), name=name, **conditions)


def test_patterns() -> None:
    facts = Facts("1", MR, "9", "MR_3T", "MR", "头颅 平扫 MRA", "放射科")
    rule = config.Rule("r", 1)
    assert matches(rule, facts)
    assert matches(config.Rule("r", 1, modality="ct, mr"), facts)  # a list, any case
    assert not matches(config.Rule("r", 1, modality="CT"), facts)
    assert matches(config.Rule("r", 1, study_description="*头颅*"), facts)
    assert not matches(config.Rule("r", 1, study_description="胸部*"), facts)
    assert matches(config.Rule("r", 1, source_ae="MR_*", sop_class_uid=MR), facts)
    assert not matches(config.Rule("r", 1, department="超声科"), facts)


def test_each_condition_narrows_what_is_queued(source: Source) -> None:
    everything = _rule(source, "all")
    ct = _rule(source, "ct", modality="CT")
    head = _rule(source, "head", study_description="*头颅*")
    ae = _rule(source, "ae", source_ae="CT_EAST")
    mr_class = _rule(source, "mr", sop_class_uid=MR)
    source.service.matcher.forget()

    utf8 = "ISO_IR 192"
    ct_head = source.store(make_ct(charset=utf8, StudyDescription="头颅平扫"), ae="CT_EAST")
    ct_chest = source.store(make_ct(charset=utf8, StudyDescription="胸部"), ae="CT_WEST")
    mr = make_ct(charset=utf8, modality="MR", StudyDescription="头颅 MRA")
    mr.SOPClassUID = mr.file_meta.MediaStorageSOPClassUID = MR
    mr_head = source.store(mr, ae="MR1")

    assert _queued(source, everything) == {ct_head, ct_chest, mr_head}
    assert _queued(source, ct) == {ct_head, ct_chest}
    assert _queued(source, head) == {ct_head, mr_head}
    assert _queued(source, ae) == {ct_head}
    assert _queued(source, mr_class) == {mr_head}


def test_one_task_per_destination_whichever_rules_match(source: Source) -> None:
    dest = dicom_destination(source.engine, 1)
    first = rule_to(source.engine, dest, name="first")
    second = rule_to(source.engine, dest, name="second", modality="CT")
    source.service.matcher.forget()
    uid = source.store(make_ct())
    (task,) = queue.listed(source.engine)
    assert task["sop_instance_uid"] == uid and task["rule_id"] in (first.id, second.id)


def test_department_of_the_ris_exam(source: Source, tmp_path: Path) -> None:
    ris = Ris(source.engine, source.bus, source.archive, files_dir=tmp_path / "ris")
    ris.start()  # seeds the exam catalogue
    ris.register_patient(PatientIn("P001", "王^建国"), username="reg")
    order = OrderIn("O1", (ProcedureRequest("CT-CHEST", room="CT1"),))
    exam = ris.place_order("P001", "", order, username="hl7:HIS").exams[0]
    assert exam.department
    ours = _rule(source, "ours", department=exam.department)
    theirs = _rule(source, "theirs", department="nowhere")
    source.service.matcher.forget()

    in_exam = source.store(make_ct(study_uid=exam.study_instance_uid))
    source.store(make_ct())  # a study of no exam has no department
    assert _queued(source, ours) == {in_exam}
    assert _queued(source, theirs) == set()


def test_enabled_flags_and_new_or_changed(source: Source) -> None:
    on = dicom_destination(source.engine, 1, name="on")
    off = dicom_destination(source.engine, 2, name="off", enabled=False)
    to_off = rule_to(source.engine, off, name="to-off")
    rule_to(source.engine, on, name="disabled", enabled=False)
    changes_only = rule_to(source.engine, on, name="changes", on_new=False)
    source.service.matcher.forget()

    study = generate_uid()
    uid = source.store(make_ct(study_uid=study, patient_id="P9"))
    assert queue.listed(source.engine) == []  # none of them takes new objects

    source.archive.correct(
        {"StudyInstanceUID": study}, {"PatientName": "Li^Si"}, reason="typo", username="t"
    )
    (task,) = queue.listed(source.engine)
    assert (task["sop_instance_uid"], task["reason"]) == (uid, "changed")
    assert task["rule_id"] == changes_only.id  # the only task: not the disabled rule's
    assert not _queued(source, to_off)  # nor the disabled destination's


def test_apply_rule_queues_what_the_destination_has_not_had(source: Source) -> None:
    first = source.study(2, modality="CT")
    source.study(1, modality="MR")
    dest = dicom_destination(source.engine, 1)
    rule = rule_to(source.engine, dest, modality="CT")
    assert queue.listed(source.engine) == []  # stored before the rule existed

    assert source.service.apply_rule(rule.id) == 2
    assert {t["reason"] for t in queue.listed(source.engine)} == {"rule"}
    assert _queued(source, rule) == set(first)
    assert source.service.apply_rule(rule.id) == 0  # waiting already
