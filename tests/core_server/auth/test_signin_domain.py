"""The sign-in domain on both databases: migrations match the tables, sessions listed and
revoked, TOTP enrolment and codes (pyotp computes them), recovery codes, password history and
age, the per-(account, address) lock and its unlock."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta

import pyotp
import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import Engine, update

from core_server import auth, clock, db
from core_server.auth import sessions, signin, totp
from core_server.auth.tables import users
from core_server.refusals import NotFound

AUTH_TABLES = ("users", "tokens", "password_history", "recovery_codes", "audit_events")


@pytest.fixture
def engine(database_url: str) -> Iterator[Engine]:
    made = db.make_engine(database_url)
    db.migrate(made)
    try:
        yield made
    finally:
        made.dispose()


def test_migrations_match_the_table_definitions(engine: Engine) -> None:
    with engine.connect() as conn:
        context = MigrationContext.configure(conn, opts={"compare_type": True})
        differences = [
            d
            for d in compare_metadata(context, db.metadata)
            if any(f"'{name}'" in repr(d) for name in AUTH_TABLES)
        ]
    assert differences == []


def test_sessions_listed_and_revoked(engine: Engine) -> None:
    user = auth.create_user(engine, "wang", "Secret-pass-1", "technician")
    first = auth.issue_token(engine, user, 1, 30, address="10.0.0.5", user_agent="Firefox")
    second = auth.issue_token(engine, user, 1, address="10.0.0.6", user_agent="httpx")
    auth.issue_token(engine, user, 1, address="10.0.0.7", pending=True)  # not a session
    listed = sessions.list_sessions(engine, "wang")
    assert {(s.address, s.user_agent, s.browser) for s in listed} == {
        ("10.0.0.5", "Firefox", True),
        ("10.0.0.6", "httpx", False),
    }
    sessions.revoke_session(engine, "wang", sessions.session_id(first))
    assert auth.user_for_token(engine, first) is None
    assert auth.user_for_token(engine, second) is not None
    with pytest.raises(NotFound):
        sessions.revoke_session(engine, "wang", sessions.session_id(first))
    assert sessions.revoke_all(engine, "wang") == 2  # the pending one goes too
    assert auth.user_for_token(engine, second) is None


def test_a_pending_token_is_no_session(engine: Engine) -> None:
    user = auth.create_user(engine, "li", "Secret-pass-1", "registrar")
    pending = auth.issue_token(engine, user, 1, pending=True)
    assert auth.user_for_token(engine, pending) is None
    assert auth.users.pending_user(engine, pending) == user


def test_totp_enrolment_codes_replay_and_recovery(engine: Engine) -> None:
    auth.create_user(engine, "admin2", "Secret-pass-1", "admin")
    uri = totp.begin(engine, "admin2", "PACS")
    assert uri.startswith("otpauth://totp/PACS:admin2?")
    code = pyotp.TOTP(totp.secret_of(uri)).now()
    with pytest.raises(totp.WrongCode):
        totp.confirm(engine, "admin2", "000000" if code != "000000" else "111111")
    recovery = totp.confirm(engine, "admin2", code)
    assert len(recovery) == 10 and len(set(recovery)) == 10
    assert auth.get_user(engine, "admin2").totp_enabled  # type: ignore[union-attr]
    with pytest.raises(totp.WrongCode):  # the same code twice: replay refused
        totp.verify(engine, "admin2", code)
    assert totp.verify(engine, "admin2", recovery[0].upper()) == "recovery"
    with pytest.raises(totp.WrongCode):
        totp.verify(engine, "admin2", recovery[0])
    assert totp.recovery_left(engine, "admin2") == 9
    assert "<svg" in totp.qr_svg(uri)
    totp.disable(engine, "admin2")
    assert not auth.get_user(engine, "admin2").totp_enabled  # type: ignore[union-attr]


def test_password_history_refuses_the_last_ones(engine: Engine) -> None:
    auth.create_user(engine, "zhao", "First-pass-1", "technician")
    auth.set_password(engine, "zhao", "Second-pass-2", history=3)
    with pytest.raises(auth.AuthError) as refused:
        auth.set_password(engine, "zhao", "First-pass-1", history=3)
    assert refused.value.key == "auth.password.reused"
    auth.set_password(engine, "zhao", "Third-pass-3", history=3)
    auth.set_password(engine, "zhao", "Fourth-pass-4", history=3)
    auth.set_password(engine, "zhao", "First-pass-1", history=3)  # now 4 changes back


def test_an_old_password_must_be_changed_at_sign_in(engine: Engine) -> None:
    auth.create_user(engine, "sun", "Secret-pass-1", "technician")
    options = signin.SignInOptions(password_max_age_days=90)
    user, _ = auth.sign_in(engine, "sun", "Secret-pass-1", 1, via="test", options=options)
    assert not user.must_change_password
    with db.write(engine) as conn:
        old = clock.now() - timedelta(days=91)
        conn.execute(update(users).where(users.c.username == "sun").values(password_changed_at=old))
    user, _ = auth.sign_in(engine, "sun", "Secret-pass-1", 1, via="test", options=options)
    assert user.must_change_password
    auth.set_password(engine, "sun", "Newer-pass-2")
    user, _ = auth.sign_in(engine, "sun", "Newer-pass-2", 1, via="test", options=options)
    assert not user.must_change_password


def test_the_lock_holds_one_address_and_not_the_owners(engine: Engine) -> None:
    auth.create_user(engine, "zhou", "Secret-pass-1", "technician")
    options = signin.SignInOptions(lock_failures=3, lock_minutes=15)
    for _ in range(3):
        with pytest.raises(auth.WrongPassword):
            auth.sign_in(engine, "zhou", "guess", 1, address="10.9.9.9", via="t", options=options)
    with pytest.raises(auth.SignInThrottled) as locked:
        auth.sign_in(
            engine, "zhou", "Secret-pass-1", 1, address="10.9.9.9", via="t", options=options
        )
    assert locked.value.key == "auth.signin.locked"
    assert 14 * 60 < locked.value.values["retry_after"] <= 15 * 60
    # The owner at their own desk signs in.
    auth.sign_in(engine, "zhou", "Secret-pass-1", 1, address="10.1.1.1", via="t", options=options)
    auth.unlock(engine, "zhou", by="admin")
    auth.sign_in(engine, "zhou", "Secret-pass-1", 1, address="10.9.9.9", via="t", options=options)


def test_sign_in_asks_for_the_code_and_completes(engine: Engine) -> None:
    auth.create_user(engine, "qian", "Secret-pass-1", "admin")
    with pytest.raises(auth.SecondFactorRequired) as enrol:
        auth.sign_in(
            engine,
            "qian",
            "Secret-pass-1",
            1,
            via="t",
            options=signin.SignInOptions(totp_required_for_admins=True),
        )
    assert enrol.value.enrol
    uri = totp.begin(engine, "qian", "PACS")
    secret = totp.secret_of(uri)
    user, token, recovery = auth.complete_sign_in(
        engine, enrol.value.pending, pyotp.TOTP(secret).now(), 1, via="t"
    )
    assert user.totp_enabled and len(recovery) == 10 and auth.user_for_token(engine, token)
    with pytest.raises(auth.AuthError):  # the half-way token was used up
        auth.complete_sign_in(engine, enrol.value.pending, "123456", 1, via="t")
    with pytest.raises(auth.SecondFactorRequired) as asked:
        auth.sign_in(engine, "qian", "Secret-pass-1", 1, via="t")
    assert not asked.value.enrol
    with pytest.raises(totp.WrongCode):
        auth.complete_sign_in(engine, asked.value.pending, "12345x", 1, via="t")
    _, token, recovery = auth.complete_sign_in(engine, asked.value.pending, recovery[3], 1, via="t")
    assert auth.user_for_token(engine, token) is not None and recovery == []
