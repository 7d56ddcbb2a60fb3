"""One refusal type for every domain: what a user asked cannot be done, and why.

A domain raises ``Refusal("ris.patient.name_required", 422, limit=64)``; the code is a key of
the message catalogue (:mod:`core_server.i18n`) whose texts take the values as placeholders,
and the status is the HTTP status the web adapter answers with (one exception handler answers
every REST call and page in the caller's language). Other adapters (HL7, DICOM) use
:meth:`Refusal.text` in English for their error comments. Extra structured values a client
acts on (a lock's holder, the words that failed a check) travel as values too.

The tests check that every code raised in the source has its texts in the catalogue.
"""

from __future__ import annotations

from typing import Any

from core_server import i18n


class Refusal(Exception):
    """A refusal said to the user: a catalogue ``code``, an HTTP ``status``, its ``values``."""

    status = 400

    def __init__(self, code: str, status: int | None = None, /, **values: Any) -> None:
        super().__init__(code)
        self.code = code
        self.key = code  # the catalogue key; a subclass may word one code several ways
        if status is not None:
            self.status = status
        self.values = values

    def text(self, lang: str = "en") -> str:
        """The refusal in ``lang`` (an unknown code shows as itself, so nothing is lost)."""
        texts = i18n.catalogue().get(self.key)
        if texts is None:
            return self.key
        template = texts[lang if lang in i18n.LANGUAGES else i18n.DEFAULT_LANGUAGE]
        try:
            return template.format(**self.shown_values(lang))
        except (KeyError, IndexError, ValueError):
            return template

    def shown_values(self, lang: str) -> dict[str, object]:
        """The values the text's placeholders take, as shown in ``lang`` (a subclass may
        label some, e.g. a status by its name)."""
        return {k: v for k, v in self.values.items() if isinstance(v, str | int | float)}

    def __str__(self) -> str:
        return self.text("en")

    def as_dict(self, lang: str) -> dict[str, Any]:
        """The JSON body's ``detail``: the code, the message in ``lang``, and the values."""
        return {**self.values, "code": self.code, "message": self.text(lang)}


class NotFound(Refusal):
    status = 404


class Forbidden(Refusal):
    status = 403


class Conflict(Refusal):
    status = 409


class Invalid(Refusal):
    status = 422
