"""The TOTP second factor (RFC 6238, pyotp): enrolment with an ``otpauth://`` QR code,
checking codes without replay, one-time recovery codes.

Enrolment is two steps: :func:`begin` stores a new secret (not yet used for sign-in) and
gives its URI for the authenticator app; :func:`confirm` takes the first code the app shows,
switches the factor on and answers ten recovery codes, shown once and stored as SHA-256
(each is 50 random bits from the OS, so a plain hash is enough; Argon2 would cost a second
per sign-in over ten codes). A code is accepted in its 30 s step and one either side (clock
drift), and never twice: the last step used is stored.
"""

from __future__ import annotations

import hashlib
import io
import secrets

import pyotp
import qrcode
import qrcode.image.svg
from sqlalchemy import Engine, delete, insert, select, update

from core_server import clock, db
from core_server.auth.errors import AuthError, UnknownUser
from core_server.auth.tables import recovery_codes, tokens, users

RECOVERY_CODES = 10
_ALPHABET = "abcdefghjkmnpqrstuvwxyz23456789"  # no 0/o, 1/l/i: read off paper


class WrongCode(AuthError):
    status = 401

    def __init__(self) -> None:
        super().__init__("auth.totp.wrong")


def begin(engine: Engine, username: str, issuer: str) -> str:
    """A new secret for ``username`` (replacing an unconfirmed one); its otpauth URI. An
    enabled factor stays as it was until the new one is confirmed."""
    secret = pyotp.random_base32()
    with db.write(engine) as conn:
        row = conn.execute(select(users.c.id).where(users.c.username == username)).first()
        if row is None:
            raise UnknownUser(username)
        conn.execute(
            update(users)
            .where(users.c.id == row.id)
            .values(totp_secret=secret, totp_enabled=False, totp_last_step=None)
        )
        conn.execute(delete(recovery_codes).where(recovery_codes.c.user_fk == row.id))
    return pyotp.TOTP(secret).provisioning_uri(name=username, issuer_name=issuer)


def qr_svg(uri: str) -> str:
    """The URI as an SVG QR code (inline in the page: the CSP allows no data: images)."""
    image = qrcode.make(uri, image_factory=qrcode.image.svg.SvgPathImage, box_size=8)
    out = io.BytesIO()
    image.save(out)
    return out.getvalue().decode()


def secret_of(uri: str) -> str:
    """The secret in an otpauth URI (for typing it in when the camera cannot read the QR)."""
    return pyotp.parse_uri(uri).secret


def confirm(engine: Engine, username: str, code: str) -> list[str]:
    """Switch the factor on with the first code; the new recovery codes (shown once)."""
    with db.write(engine) as conn:
        row = conn.execute(select(users).where(users.c.username == username)).first()
        if row is None:
            raise UnknownUser(username)
        if not row.totp_secret:
            raise AuthError("auth.totp.not_begun")
        step = _matching_step(row.totp_secret, code, row.totp_last_step)
        if step is None:
            raise WrongCode
        codes = ["-".join(_chunk() for _ in range(2)) for _ in range(RECOVERY_CODES)]
        conn.execute(delete(recovery_codes).where(recovery_codes.c.user_fk == row.id))
        conn.execute(
            insert(recovery_codes),
            [{"user_fk": row.id, "code_sha256": _hash(c)} for c in codes],
        )
        conn.execute(
            update(users).where(users.c.id == row.id).values(totp_enabled=True, totp_last_step=step)
        )
    return codes


def verify(engine: Engine, username: str, code: str) -> str:
    """Accept a TOTP code or an unused recovery code (raises :class:`WrongCode`); which kind
    it was: "totp" or "recovery"."""
    code = code.strip().lower().replace(" ", "")
    with db.write(engine) as conn:
        row = conn.execute(select(users).where(users.c.username == username)).first()
        if row is None or not row.totp_enabled or not row.totp_secret:
            raise WrongCode
        step = _matching_step(row.totp_secret, code, row.totp_last_step)
        if step is not None:
            conn.execute(update(users).where(users.c.id == row.id).values(totp_last_step=step))
            return "totp"
        used = conn.execute(
            update(recovery_codes)
            .where(
                recovery_codes.c.user_fk == row.id,
                recovery_codes.c.code_sha256 == _hash(code),
                recovery_codes.c.used_at.is_(None),
            )
            .values(used_at=clock.now())
        ).rowcount
    if not used:
        raise WrongCode
    return "recovery"


def disable(engine: Engine, username: str) -> None:
    """Switch the factor off (the user, or an administrator for one who lost the device);
    the user's sessions end."""
    with db.write(engine) as conn:
        row = conn.execute(select(users.c.id).where(users.c.username == username)).first()
        if row is None:
            raise UnknownUser(username)
        conn.execute(
            update(users)
            .where(users.c.id == row.id)
            .values(totp_secret=None, totp_enabled=False, totp_last_step=None)
        )
        conn.execute(delete(recovery_codes).where(recovery_codes.c.user_fk == row.id))
        conn.execute(delete(tokens).where(tokens.c.user_fk == row.id))


def recovery_left(engine: Engine, username: str) -> int:
    with db.read(engine) as conn:
        return len(
            conn.execute(
                select(recovery_codes.c.id)
                .join(users, users.c.id == recovery_codes.c.user_fk)
                .where(users.c.username == username, recovery_codes.c.used_at.is_(None))
            ).all()
        )


def _matching_step(secret: str, code: str, last_step: int | None) -> int | None:
    """The time step ``code`` belongs to (now, or one either side), if newer than the last."""
    code = code.strip().replace(" ", "")
    if len(code) != 6 or not code.isdigit():
        return None
    totp = pyotp.TOTP(secret)
    now = clock.now()
    step_now = totp.timecode(now)
    for step in (step_now, step_now - 1, step_now + 1):
        if last_step is not None and step <= last_step:
            continue
        if secrets.compare_digest(totp.generate_otp(step), code):
            return step
    return None


def _chunk() -> str:
    return "".join(secrets.choice(_ALPHABET) for _ in range(5))


def _hash(code: str) -> str:
    return hashlib.sha256(code.strip().lower().encode()).hexdigest()
