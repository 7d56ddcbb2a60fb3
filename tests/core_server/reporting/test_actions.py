"""What a doctor may do with a report is the server's to say (``allowed_actions``), by the same
checks the steps run: a submitted or signed report is read-only for its author, the reviewer
of the next step may edit and sign it; every refusal of the domain has its texts in the
catalogue, in both languages, and answers in the caller's."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

from core_server import i18n
from core_server.reporting import Conflict, Content, Doctor, Forbidden, ReportingError, signoff
from tests.core_server.reporting.conftest import ATTENDING, CHIEF, RESIDENT, RESIDENT2, Setup

REPORTING = Path(__file__).parents[3] / "core_server" / "reporting"
TEXT = "<p>右肺上叶见一结节。</p>"


def test_actions_follow_the_report_through_two_levels(sqlite_setup: Setup) -> None:
    reporting = sqlite_setup.reporting
    report = reporting.start(sqlite_setup.exam(), RESIDENT)
    draft = reporting.allowed_actions(report, RESIDENT)
    assert {"edit", "submit"} <= set(draft) and not {"sign", "review", "amend"} & set(draft)
    written = reporting.autosave(report.id, RESIDENT, Content(TEXT, TEXT))
    # Another resident opens the draft read-only; taking it over is a choice.
    other = reporting.allowed_actions(written, RESIDENT2)
    assert "take_over" in other and "edit" not in other
    submitted = reporting.submit(report.id, RESIDENT)
    author = reporting.allowed_actions(submitted, RESIDENT)
    assert not {"edit", "submit", "sign", "reject"} & set(author)  # read-only for its author
    assert {"edit", "sign", "reject"} <= set(reporting.allowed_actions(submitted, ATTENDING))
    signed = reporting.sign(report.id, ATTENDING)
    after = reporting.allowed_actions(signed, ATTENDING)
    assert "amend" in after and not {"edit", "sign", "result_flags"} & set(after)
    assert "flags" in after  # the teaching bookmark stays free
    assert reporting.allowed_actions(signed, Doctor("ward", "clinician")) == []


def test_actions_of_three_levels_and_emergencies(sqlite_setup: Setup) -> None:
    reporting = sqlite_setup.reporting
    reporting.set_levels("RAD", 3)
    report = reporting.start(sqlite_setup.exam(), RESIDENT)
    submitted = reporting.submit(report.id, RESIDENT, Content(TEXT, TEXT))
    attending = reporting.allowed_actions(submitted, ATTENDING)
    assert "review" in attending and "sign" not in attending
    reviewed = reporting.review(report.id, ATTENDING)
    assert "sign" not in reporting.allowed_actions(reviewed, ATTENDING)
    assert {"edit", "sign", "reject"} <= set(reporting.allowed_actions(reviewed, CHIEF))
    urgent = reporting.start(sqlite_setup.exam("P2", emergency=True), RESIDENT)
    assert "sign" in reporting.allowed_actions(urgent, RESIDENT)  # one level: the author signs


def test_allowed_steps_are_the_steps_checks() -> None:
    """Every step allowed_steps offers passes its check, every other one is refused by it."""
    grades = [None, *signoff.ROLE_GRADES.values(), signoff.Grade.CHIEF]
    for status in ("draft", "submitted", "reviewed", "signed"):
        for grade in grades:
            for levels in (1, 2, 3):
                for author in ("me", "other", ""):
                    allowed = signoff.allowed_steps(
                        status, grade, levels, emergency=False, username="me", author=author
                    )
                    try:
                        signoff.check_sign(status, grade, levels, False, "me", author)
                        signs = True
                    except (Conflict, Forbidden):
                        signs = False
                    assert ("sign" in allowed) == signs, (status, grade, levels, author)


def _is_code(value: str) -> bool:
    return value.startswith("reporting.") and value.count(".") >= 2 and " " not in value


def _codes() -> dict[str, str]:
    """Every "reporting.*" code the domain's source names (arguments of any call)."""
    found: dict[str, str] = {}
    for path in REPORTING.rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.Call):
                for arg in node.args[:1]:
                    value = arg.value if isinstance(arg, ast.Constant) else None
                    if isinstance(value, str) and _is_code(value):
                        found[value] = f"{path.name}:{node.lineno}"
    return found


def test_every_reporting_refusal_has_its_texts() -> None:
    catalogue = i18n.catalogue()
    codes = _codes()
    assert len(codes) > 50  # the scan finds them (signoff passes its codes to helpers)
    missing = {code: where for code, where in codes.items() if code not in catalogue}
    assert not missing, missing


def test_refusals_speak_the_callers_language(sqlite_setup: Setup) -> None:
    reporting = sqlite_setup.reporting
    with pytest.raises(ReportingError) as refused:
        reporting.change_settings({"lock_minutes": 0})
    assert refused.value.code == "reporting.settings.range" and refused.value.status == 400
    assert refused.value.text("zh") == "lock_minutes 的取值为 1-1440"
    assert refused.value.text("en") == "lock_minutes is 1 to 1440"
    report = reporting.start(sqlite_setup.exam(emergency=True), RESIDENT)
    reporting.sign(report.id, RESIDENT, Content(TEXT, TEXT))
    with pytest.raises(Conflict) as signed:
        reporting.sign(report.id, ATTENDING)
    # The report's status by its label in the caller's language.
    assert signed.value.text("zh") == "报告状态为「已签发」，不能签发"
    assert signed.value.as_dict("en")["code"] == "reporting.signoff.sign_status"
