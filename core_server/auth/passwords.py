"""The password policy an administrator tunes (settings ``password_min_length``,
``password_min_classes``, ``password_refuse_common``).

It applies wherever a person chooses a password: an administrator adding a user or setting a
temporary one, a user changing their own, the console's ``users add`` and ``users passwd``.
Passwords the core makes itself (the first admin's, device keys) are random and long.
"""

from __future__ import annotations

from dataclasses import dataclass

from core_server.auth.common_passwords import is_common
from core_server.auth.errors import PasswordRejected

MAX_LENGTH = 256  # Argon2 takes any length; this only bounds the work one request can ask for


@dataclass(frozen=True)
class PasswordPolicy:
    min_length: int = 8
    min_classes: int = 2  # of: lower case, upper case, digits, anything else
    refuse_common: bool = True

    @classmethod
    def from_settings(cls, settings: object) -> PasswordPolicy:
        return cls(
            min_length=getattr(settings, "password_min_length", cls.min_length),
            min_classes=getattr(settings, "password_min_classes", cls.min_classes),
            refuse_common=getattr(settings, "password_refuse_common", cls.refuse_common),
        )

    def problems(self, password: str, username: str = "") -> list[str]:
        """The catalogue codes of the rules ``password`` fails, most basic first."""
        found = []
        if len(password) < self.min_length:
            found.append("auth.password.too_short")
        if len(password) > MAX_LENGTH:
            found.append("auth.password.too_long")
        if not password.strip():
            found.append("auth.password.blank")
        # Common before classes: "password" made "password1" only to be refused again.
        if self.refuse_common and is_common(password):
            found.append("auth.password.common")
        if username and _is_the_name(password, username):
            found.append("auth.password.username")
        if password.strip() and classes(password) < self.min_classes:
            found.append("auth.password.classes")
        return found

    def check(self, password: str, username: str = "") -> None:
        """Raise :class:`PasswordRejected` (the first problem's code, every problem listed)."""
        found = self.problems(password, username)
        if found:
            raise PasswordRejected(
                found[0],
                min_length=self.min_length,
                min_classes=self.min_classes,
                problems=found,
            )


# What a password was held to before the policy: programs creating users for tests and
# devices call the domain without one.
MINIMAL = PasswordPolicy(min_length=8, min_classes=1, refuse_common=False)


def classes(password: str) -> int:
    """How many of the four character classes ``password`` uses; letters without case
    (Chinese characters) count as lower-case letters."""
    return (
        any(c.islower() or (c.isalpha() and not c.isupper()) for c in password)
        + any(c.isupper() for c in password)
        + any(c.isdigit() for c in password)
        + any(not c.isalnum() for c in password)
    )


def _is_the_name(password: str, username: str) -> bool:
    """The user name itself, reversed, or with only digits or symbols around it."""
    lowered, name = password.lower(), username.lower()
    if lowered in (name, name[::-1]):
        return True
    stripped = lowered.strip("0123456789!@#$%^&*.-_")
    return len(name) >= 3 and stripped == name
