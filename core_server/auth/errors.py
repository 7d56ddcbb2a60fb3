"""The auth domain's refusals: a catalogue code (``auth.*``, texts in the web shell's
``messages.json``) and an HTTP status."""

from __future__ import annotations

from core_server.refusals import Refusal


class AuthError(Refusal):
    """A user-facing refusal (bad password, unknown user, invalid role...)."""

    status = 400


class UnknownUser(AuthError):
    status = 404

    def __init__(self, username: str) -> None:
        super().__init__("auth.user.unknown", username=username)


class WrongPassword(AuthError):
    """Wrong user name or password: the same answer for both, so names cannot be probed."""

    status = 401

    def __init__(self) -> None:
        super().__init__("auth.signin.failed")


class PasswordRejected(AuthError):
    """The password does not meet the policy; ``problems`` lists every rule it fails."""
