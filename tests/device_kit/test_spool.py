"""The on-disk spool: durable across a restart, replayed in order, each action once."""

from __future__ import annotations

from pathlib import Path

from device_kit.spool import Action, Outcome, Result, Spool


def test_actions_survive_a_restart_and_replay_in_order_once(tmp_path: Path) -> None:
    spool = Spool(tmp_path / "spool.sqlite")
    first = spool.add("start", "POST", "/api/queueing/rooms/CT1/start", {})
    second = spool.add("finish", "POST", "/api/queueing/rooms/CT1/finish", {"note": "张三"})
    spool.close()  # the device restarts

    spool = Spool(tmp_path / "spool.sqlite")
    assert [a.key for a in spool.pending()] == [first.key, second.key]
    assert spool.pending()[1].body == {"note": "张三"}
    sent: list[Action] = []

    def send(action: Action) -> Result:
        sent.append(action)
        return Result(action, Outcome.DONE, {"seq": len(sent)})

    settled, expired = spool.replay(send)
    assert [r.action.kind for r in settled] == ["start", "finish"]
    assert expired == []
    assert len(spool) == 0
    assert spool.replay(send) == ([], [])
    assert [a.key for a in sent] == [first.key, second.key]


def test_replay_stops_at_the_first_retry_and_keeps_the_key(tmp_path: Path) -> None:
    spool = Spool(tmp_path / "spool.sqlite")
    a = spool.add("start", "POST", "/a", {})
    b = spool.add("finish", "POST", "/b", {})
    calls: list[str] = []

    def unreachable(action: Action) -> Result:
        calls.append(action.key)
        return Result(action, Outcome.RETRY, "connection refused")

    assert spool.replay(unreachable) == ([], [])
    assert calls == [a.key]  # b never overtakes a
    pending = spool.pending()
    assert [p.key for p in pending] == [a.key, b.key]
    assert pending[0].attempts == 1 and pending[0].last_error == "connection refused"

    def crashing(action: Action) -> Result:
        raise OSError("network is down")

    assert spool.replay(crashing) == ([], [])
    assert spool.pending()[0].attempts == 2


def test_a_refusal_is_settled_and_the_rest_goes_on(tmp_path: Path) -> None:
    spool = Spool(tmp_path / "spool.sqlite")
    spool.add("recall", "POST", "/recall", {})
    spool.add("finish", "POST", "/finish", {})

    def send(action: Action) -> Result:
        if action.kind == "recall":
            return Result(action, Outcome.REFUSED, {"code": "no_current_patient"})
        return Result(action, Outcome.DONE, {})

    settled, _ = spool.replay(send)
    assert [(r.action.kind, r.outcome) for r in settled] == [
        ("recall", Outcome.REFUSED),
        ("finish", Outcome.DONE),
    ]
    assert len(spool) == 0


def test_expired_actions_are_dropped_unsent(tmp_path: Path) -> None:
    spool = Spool(tmp_path / "spool.sqlite")
    stale = spool.add("call_next", "POST", "/call-next", {}, ttl=-1)
    kept = spool.add("finish", "POST", "/finish", {})
    sent: list[str] = []

    def send(action: Action) -> Result:
        sent.append(action.key)
        return Result(action, Outcome.DONE)

    settled, expired = spool.replay(send)
    assert [a.key for a in expired] == [stale.key]
    assert sent == [kept.key]
    assert [r.action.key for r in settled] == [kept.key]
