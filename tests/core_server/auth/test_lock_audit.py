"""The lockout's audit entry, on both databases: the failure that locks an (account, address)
pair writes one ``login.locked`` (refused tries while locked write nothing), an unlock or the
lock's end starts a new count and the next lock writes a new entry; a lock from another
address is its own; the users page's list of current locks; and the entry reaches an audit
repository (UDP, the ATNA tests' receiver) as a Security Alert the standard's schema accepts."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import Engine

from core_server import auth, clock, db
from core_server.archive import Archive
from core_server.atna import AtnaSender, Source, codes
from core_server.atna.syslog import UdpTransport
from core_server.auth import signin
from tests.core_server.atna.receiver import Repository, UdpReceiver

OPTIONS = signin.SignInOptions(lock_failures=3, lock_minutes=15)


@pytest.fixture
def engine(database_url: str) -> Iterator[Engine]:
    made = db.make_engine(database_url)
    db.migrate(made)
    auth.create_user(made, "zhou", "Secret-pass-1", "technician")
    try:
        yield made
    finally:
        made.dispose()


def _guess(
    engine: Engine, address: str = "10.9.9.9", options: signin.SignInOptions = OPTIONS
) -> type[Exception]:
    """One wrong password from ``address``; which refusal it met."""
    try:
        auth.sign_in(engine, "zhou", "guess", 1, address=address, via="t", options=options)
    except (auth.WrongPassword, auth.SignInThrottled) as exc:
        return type(exc)
    raise AssertionError("a wrong password signed in")


def _locks(engine: Engine) -> list[auth.AuditEvent]:
    return auth.query_audit(engine, action=signin.LOGIN_LOCKED)[1]


def test_one_entry_per_lock_not_per_attempt(engine: Engine) -> None:
    assert [_guess(engine) for _ in range(2)] == [auth.WrongPassword] * 2
    assert _locks(engine) == []
    assert _guess(engine) is auth.WrongPassword  # the third failure locks the pair
    assert [_guess(engine) for _ in range(4)] == [auth.SignInThrottled] * 4
    (entry,) = _locks(engine)
    assert (entry.username, entry.address, entry.target) == ("zhou", "10.9.9.9", "user:zhou")
    assert entry.detail["failures"] == 3 and entry.detail["minutes"] == 15
    assert entry.detail["via"] == "t" and "3 failed sign-ins" in entry.detail["reason"]
    locked_until = datetime.fromisoformat(entry.detail["until"])
    assert timedelta(minutes=14) < locked_until - clock.now() <= timedelta(minutes=15)
    (shown,) = signin.current_locks(engine, OPTIONS)
    assert (shown.username, shown.address) == ("zhou", "10.9.9.9")
    assert shown.until == locked_until

    auth.unlock(engine, "zhou", by="admin")
    assert signin.current_locks(engine, OPTIONS) == []
    assert [_guess(engine) for _ in range(3)] == [auth.WrongPassword] * 3
    assert len(_locks(engine)) == 2  # locked again: a new entry for the new lock


def test_each_address_has_its_own_lock_entry(engine: Engine) -> None:
    # Two failures a pair here: five in all would bring in the account's backoff.
    options = signin.SignInOptions(lock_failures=2, lock_minutes=15)
    for address in ("10.9.9.9", "10.8.8.8"):
        assert [_guess(engine, address, options) for _ in range(2)] == [auth.WrongPassword] * 2
    assert {e.address for e in _locks(engine)} == {"10.9.9.9", "10.8.8.8"}
    assert {lock.address for lock in signin.current_locks(engine, options)} == {
        "10.9.9.9",
        "10.8.8.8",
    }


def test_a_lock_that_ran_out_is_followed_by_a_new_entry(
    engine: Engine, monkeypatch: pytest.MonkeyPatch
) -> None:
    for _ in range(3):
        _guess(engine)
    later = clock.now() + timedelta(minutes=16)
    monkeypatch.setattr(clock, "now", lambda: later)
    assert signin.current_locks(engine, OPTIONS) == []
    assert [_guess(engine) for _ in range(3)] == [auth.WrongPassword] * 3
    assert len(_locks(engine)) == 2


def test_the_lock_entry_reaches_the_audit_repository(engine: Engine, tmp_path: Path) -> None:
    for _ in range(3):
        _guess(engine)
    repository = Repository()
    receiver = UdpReceiver(repository)
    try:
        archive = Archive(engine, tmp_path / "storage")
        transport = UdpTransport("127.0.0.1", receiver.port)
        sender = AtnaSender(engine, archive, transport, Source("pacs.test", "CORE"), "repo")
        sender.settle = sender.settle * 0  # nothing else writes to the trail here
        sender.tick()
        alerts = repository.wait_for(lambda m: m.event_id() == codes.SECURITY_ALERT.code)
    finally:
        receiver.close()
    assert repository.errors == []
    (alert,) = alerts
    ident = alert.xml.find("EventIdentification")
    assert ident.get("EventOutcomeIndicator") == "4"
    assert "3 failed sign-ins" in ident.find("EventOutcomeDescription").text
    assert ident.find("EventTypeCode").get("csd-code") == codes.USER_SECURITY_CHANGED.code
    guesser = alert.xml.find("ActiveParticipant")
    assert (guesser.get("UserID"), guesser.get("NetworkAccessPointID")) == ("zhou", "10.9.9.9")
    account = alert.xml.find("ParticipantObjectIdentification")
    assert account.get("ParticipantObjectID") == "zhou"
