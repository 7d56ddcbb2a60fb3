"""The password policy: length, character classes, not the user name, not a common password
(the list is made here: digit runs, keyboard walks, dates, words with the usual suffixes)."""

from __future__ import annotations

import pytest

from core_server.auth import PasswordPolicy, PasswordRejected
from core_server.auth.common_passwords import is_common
from core_server.auth.passwords import MINIMAL, classes

POLICY = PasswordPolicy()  # the defaults: 8 characters, 2 classes, common ones refused


@pytest.mark.parametrize(
    "password",
    [
        "password",
        "12345678",
        "123456789",
        "87654321",
        "11111111",
        "        ",
        "Password1",
        "password123",
        "P@ssw0rd!",
        "passw0rd",
        "qwertyuiop",
        "qwerty123",
        "1qaz2wsx",
        "asdfghjkl",
        "19850612",
        "12121212",
        "abcabcabc",
        "woaini1314",
        "5201314",
        "Admin123",
        "welcome2024",
        "iloveyou!",
    ],
)
def test_common_passwords_are_refused(password: str) -> None:
    assert is_common(password)
    assert POLICY.problems(password), password


@pytest.mark.parametrize(
    "password",
    [
        "first-pass-1",
        "Tr0ub4dor&3",
        "correct horse battery",
        "ct3-reading-room",
        "张医生的密码2024",
    ],
)
def test_ordinary_passwords_pass(password: str) -> None:
    assert not is_common(password)
    assert POLICY.problems(password, "li.hua") == []


def test_each_rule_and_its_code() -> None:
    assert POLICY.problems("ab1-") == ["auth.password.too_short"]
    assert POLICY.problems("         ")[0] == "auth.password.blank"
    assert POLICY.problems("abcdefghij-k") == []
    assert "auth.password.classes" in POLICY.problems("zhongguancun")  # letters only
    assert POLICY.problems("li.hua-2026", "li.hua-2026") == ["auth.password.username"]
    assert POLICY.problems("wanghua!!", "wanghua") == ["auth.password.username"]
    assert POLICY.problems("x" * 300)[:1] == ["auth.password.too_long"]
    assert classes("aA1-") == 4 and classes("中文密码") == 1


def test_the_policy_is_tunable_and_raises_with_every_problem() -> None:
    strict = PasswordPolicy(min_length=12, min_classes=3)
    with pytest.raises(PasswordRejected) as refused:
        strict.check("long-enough-pass")
    assert refused.value.code == "auth.password.classes"
    assert refused.value.values["min_classes"] == 3
    with pytest.raises(PasswordRejected) as refused:
        strict.check("short")
    assert refused.value.values["problems"] == ["auth.password.too_short", "auth.password.classes"]
    assert "at least 12 characters" in str(refused.value)
    lax = PasswordPolicy(min_length=6, min_classes=1, refuse_common=False)
    assert lax.problems("password") == []


def test_programs_making_users_keep_the_old_minimum() -> None:
    """Callers without a policy (device enrolment, tests' fixtures) are held to 8 characters;
    every person-facing way in passes the site's policy (the web and console tests)."""
    assert MINIMAL.problems("password") == []
    assert MINIMAL.problems("short") == ["auth.password.too_short"]
    assert MINIMAL.problems("        ") == ["auth.password.blank"]
