"""Templates (structured fields, defaults, private), the worklist's filters, priors, flags,
key images, quality grades and follow-up."""

from __future__ import annotations

from datetime import date

import pytest

from core_server.archive import Origin
from core_server.reporting import (
    Conflict,
    Content,
    Doctor,
    Forbidden,
    KeyImage,
    ReportingError,
    Template,
    TemplateField,
)
from tests.core_server.reporting.conftest import ATTENDING, RESIDENT, RESIDENT2, Setup
from tests.dicom_data import encode, make_ct

THYROID = Template(
    id=0,
    name="甲状腺结节 TI-RADS",
    scope="system",
    owner="",
    department="US",
    modality="US",
    body_part="NECK",
    keywords="甲状腺 结节 TIRADS",
    findings="<p>甲状腺大小正常，回声均匀。</p>",
    impression="<p>甲状腺结节，TI-RADS 3类。</p>",
    fields=(
        TemplateField("side", "部位", "choice", choices=("左叶", "右叶", "峡部"), required=True),
        TemplateField("size", "最大径", "number", unit="mm", minimum=0, maximum=200, required=True),
        TemplateField(
            "tirads", "TI-RADS", "choice", choices=("1", "2", "3", "4a", "4b", "4c", "5")
        ),
        TemplateField("previous", "上次检查", "date"),
        TemplateField("note", "备注", "text"),
    ),
)


def test_structured_template_as_default_with_typed_fields(sqlite_setup: Setup) -> None:
    reporting = sqlite_setup.reporting
    template = reporting.save_template("admin", THYROID)
    assert [f.type for f in template.fields] == ["choice", "number", "choice", "date", "text"]
    reporting.set_default_template("US-THYROID", template.id)
    report = reporting.start(sqlite_setup.exam(procedure="US-THYROID"), RESIDENT)
    assert report.template_id == template.id and "回声均匀" in report.findings
    with pytest.raises(ReportingError, match="number"):
        reporting.autosave(report.id, RESIDENT, Content(fields={"size": "大"}))
    with pytest.raises(ReportingError, match="range"):
        reporting.autosave(report.id, RESIDENT, Content(fields={"size": 500}))
    with pytest.raises(ReportingError, match="choices"):
        reporting.autosave(report.id, RESIDENT, Content(fields={"side": "左侧"}))
    with pytest.raises(ReportingError, match="no field"):
        reporting.autosave(report.id, RESIDENT, Content(fields={"colour": "红"}))
    with pytest.raises(ReportingError, match="date"):
        reporting.autosave(report.id, RESIDENT, Content(fields={"previous": "去年"}))
    saved = reporting.autosave(
        report.id, RESIDENT, Content(fields={"size": "12.5", "previous": "2026-01-05"})
    )
    assert saved.fields == {"size": 12.5, "previous": "2026-01-05"}
    with pytest.raises(ReportingError, match="部位"):
        reporting.submit(report.id, RESIDENT)  # a required field is empty
    submitted = reporting.submit(
        report.id, RESIDENT, Content(fields={"side": "右叶", "size": 12.5, "tirads": "4a"})
    )
    assert submitted.status == "submitted" and submitted.fields["tirads"] == "4a"


def test_template_knowledge_base_and_private_templates(sqlite_setup: Setup) -> None:
    reporting = sqlite_setup.reporting
    reporting.save_template("admin", THYROID)
    chest = reporting.save_template(
        "admin",
        Template(
            0, "胸部CT平扫正常", "system", "", "", "CT", "CHEST", "正常 肺", "<p>双肺清晰</p>", ""
        ),
    )
    reporting.save_template(
        "admin",
        Template(0, "放射科头颅CT", "department", "", "RAD", "CT", "HEAD", "", "<p>脑实质</p>", ""),
    )
    report = reporting.start(sqlite_setup.exam(), RESIDENT)
    reporting.autosave(report.id, RESIDENT, Content(findings="<p>我的常用描述：肺气肿</p>"))
    mine = reporting.save_as_template(report.id, RESIDENT.username, "我的肺气肿", "肺气肿")
    assert (mine.scope, mine.owner, mine.modality, mine.body_part) == (
        "private",
        RESIDENT.username,
        "CT",
        "CHEST",
    )
    names = [t.name for t in reporting.templates(RESIDENT.username, modality="CT")]
    assert set(names) == {"胸部CT平扫正常", "放射科头颅CT", "我的肺气肿"}
    assert [t.name for t in reporting.templates(RESIDENT2.username, modality="CT")] == [
        "胸部CT平扫正常",  # CHEST before HEAD
        "放射科头颅CT",
    ]  # someone else's private template is not listed
    assert [t.name for t in reporting.templates(RESIDENT.username, keyword="肺气肿")] == [
        "我的肺气肿"
    ]
    assert [
        t.id for t in reporting.templates(RESIDENT.username, modality="CT", body_part="chest")
    ] == [mine.id, chest.id]
    with pytest.raises(Forbidden):
        reporting.delete_template(mine.id, RESIDENT2.username, admin=False)
    reporting.delete_template(mine.id, RESIDENT.username, admin=False)
    assert mine.id not in [t.id for t in reporting.templates(RESIDENT.username)]
    with pytest.raises(ReportingError, match="choices"):
        reporting.save_template(
            "admin",
            Template(
                0, "x", "system", "", "", "", "", "", "", "", (TemplateField("a", "A", "choice"),)
            ),
        )


def test_worklist_filters(setup: Setup) -> None:
    reporting = setup.reporting
    zhang = setup.exam("P10021", "张三", birth_date=date(1990, 5, 1))
    li = setup.exam("P20034", "李四", "MR-HEAD", birth_date=date(2021, 1, 1))
    wang = setup.exam("P30021", "王五", emergency=True)
    mine = reporting.start(zhang, RESIDENT)
    reporting.submit(mine.id, RESIDENT, Content(findings="<p>所见</p>", impression="<p>意见</p>"))
    reporting.raise_critical(mine.id, RESIDENT, "大量气胸")

    def ids(**filters: object) -> list[int]:
        return [r.exam_id for r in reporting.worklist(RESIDENT2, **filters).rows]  # type: ignore[arg-type]

    assert ids() == [wang, zhang, li]  # emergencies, then critical values, then oldest first
    # pages of the same order, each with the count of all rows
    assert ids(limit=2) == [wang, zhang] and ids(limit=2, offset=2) == [li]
    assert reporting.worklist(RESIDENT2, limit=1, offset=1).total == 3
    assert ids(offset=3) == []
    assert ids(text_search="李四") == [li]
    assert ids(text_search="ls") == [li]  # pinyin initials
    assert ids(text_search="zhang") == [zhang]
    assert ids(modality="MR") == [li]
    assert ids(body_part="chest") == [wang, zhang]
    assert ids(id_suffix="21") == [wang, zhang]
    assert ids(age="y,20,") == [zhang]
    assert ids(age="y,,10") == [li]
    assert ids(status="unreported") == [wang, li]
    assert ids(status="submitted") == [zhang]
    assert ids(critical=True) == [zhang]
    assert [r.exam_id for r in reporting.worklist(RESIDENT, mine=True).rows] == [zhang]
    assert ids(mine=True) == []
    row = reporting.worklist(RESIDENT2, text_search="张三").rows[0]
    assert (row.report_status, row.author, row.critical, row.sex, row.age) == (
        "submitted",
        RESIDENT.username,
        True,
        "M",
        date.today().year - 1990 - ((date.today().month, date.today().day) < (5, 1)),
    )
    with pytest.raises(ReportingError, match="age"):
        reporting.worklist(RESIDENT, age="20-30")


def test_priors_flags_key_images_grades_and_follow_up(sqlite_setup: Setup) -> None:
    reporting = sqlite_setup.reporting
    earlier = sqlite_setup.exam("P1", procedure="CT-CHEST")
    old = reporting.start(earlier, RESIDENT)
    reporting.submit(
        old.id, RESIDENT, Content(findings="<p>旧所见</p>", impression="<p>旧结论</p>")
    )
    reporting.sign(old.id, ATTENDING)
    later = sqlite_setup.exam("P1", procedure="CT-HEAD")
    report = reporting.start(later, RESIDENT)
    priors = reporting.priors(report)
    assert [(p["exam_id"], p["report"]["impression"]) for p in priors] == [
        (earlier, "<p>旧结论</p>")
    ]
    assert [r.priors for r in reporting.worklist(RESIDENT, text_search="P1").rows] == [0, 1]
    flagged = reporting.set_flags(
        report.id, RESIDENT, positive=True, teaching=True, teaching_note="典型"
    )
    assert (flagged.positive, flagged.teaching, flagged.teaching_note) == (True, True, "典型")
    assert reporting.set_flags(report.id, RESIDENT, clear_positive=True).positive is None
    ct = make_ct(patient_id="P1", study_uid="1.2.3", series_uid="1.2.3.4", sop_uid="1.2.3.4.5")
    sqlite_setup.archive.store_instance(encode(ct), Origin("test", "CT01"))
    with pytest.raises(ReportingError, match=r"9\.9\.9"):
        reporting.set_key_images(report.id, RESIDENT, [KeyImage("1.2.3", "1.2.3.4", "9.9.9")])
    images = [KeyImage("1.2.3", "1.2.3.4", "1.2.3.4.5", 3, "结节最大层面")]
    assert reporting.set_key_images(report.id, RESIDENT, images).key_images == [
        {
            "study_uid": "1.2.3",
            "series_uid": "1.2.3.4",
            "sop_instance_uid": "1.2.3.4.5",
            "frame": 3,
            "note": "结节最大层面",
        }
    ]
    # A signed report keeps its result flags until amended; the teaching bookmark is free.
    with pytest.raises(Conflict, match="amend"):
        reporting.set_flags(old.id, ATTENDING, positive=False)
    assert reporting.set_flags(old.id, ATTENDING, teaching=True).teaching
    with pytest.raises(Forbidden):
        reporting.grade_report(old.id, RESIDENT, "good")
    assert reporting.grade_report(old.id, ATTENDING, "excellent").report_quality == "excellent"
    with pytest.raises(ReportingError):
        reporting.grade_report(old.id, ATTENDING, "great")
    graded = reporting.grade_images(later, Doctor("tech.liu", "technician"), "fair")
    assert (graded.id, graded.image_quality, graded.image_quality_by) == (
        report.id,
        "fair",
        "tech.liu",
    )
    followed = reporting.record_follow_up(
        old.id,
        ATTENDING,
        pathology_result="腺癌",
        clinical_outcome="手术切除",
        agreement="partly",
    )
    assert (followed.pathology_result, followed.pathology_agreement, followed.agreement_by) == (
        "腺癌",
        "partly",
        ATTENDING.username,
    )
    assert reporting.history(old.id)[-1].action == "follow_up"
