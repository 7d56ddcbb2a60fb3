"""The captures store: a capture is on disk (file and record) when add returns, survives a
reopen (a crash), its states move taken -> sent | deleted, a half-written file is dropped."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

from capture_station.contract import Capture, ExamContext
from capture_station.spool import CaptureSpool, Session, Step

EXAM = ExamContext("A1", "P1", "WANG^JIANGUO=王^建国", study_instance_uid="1.2.3")


def still(spool: CaptureSpool, number: int = 1) -> Capture:
    key = spool.new_key()
    return Capture(
        key,
        "still",
        f"1.2.9.{number}",
        "1.2.8",
        EXAM,
        "2026-12-07T10:00:00+08:00",
        "",
        64,
        48,
        number,
    )


def test_captures_survive_a_reopen_with_their_states(tmp_path: Path) -> None:
    spool = CaptureSpool(tmp_path)
    first = spool.add_still(still(spool, 1), b"\xff\xd8jpeg1")
    second = spool.add_still(still(spool, 2), b"\xff\xd8jpeg2")
    third = spool.add_still(still(spool, 3), b"\xff\xd8jpeg3")
    assert spool.path(first).read_bytes() == b"\xff\xd8jpeg1"
    assert spool.next_instance("1.2.8") == 4
    spool.mark_sent(first.key)
    assert spool.delete(second.key)
    assert not spool.path(second).exists()
    assert not spool.delete(first.key)  # sent: the archive has it

    again = CaptureSpool(tmp_path)  # as after kill -9
    states = {c.key: c.state for c in again.captures("A1")}
    assert states == {first.key: "sent", second.key: "deleted", third.key: "taken"}
    assert [c.key for c in again.unsent()] == [third.key]
    assert again.captures("OTHER") == []


def test_a_capture_being_sent_cannot_be_deleted(tmp_path: Path) -> None:
    spool = CaptureSpool(tmp_path)
    taken = spool.add_still(still(spool), b"jpeg")
    with spool.sending(taken.key) as held:
        assert held is not None and not spool.delete(taken.key)
    assert spool.delete(taken.key)
    with spool.sending(taken.key) as held:
        assert held is None


def test_leftovers_of_an_interrupted_write_are_dropped(tmp_path: Path) -> None:
    spool = CaptureSpool(tmp_path)
    taken = spool.add_still(still(spool), b"jpeg")
    (tmp_path / ".half.jpg.tmp").write_bytes(b"half")
    # A record whose file is gone (never happens through add_still) is not listed as taken.
    orphan = still(spool, 2)
    orphan.file = "gone.jpg"
    spool._record(orphan)
    again = CaptureSpool(tmp_path)
    assert [c.key for c in again.captures()] == [taken.key]
    assert not (tmp_path / ".half.jpg.tmp").exists()


def test_clip_is_moved_in_whole(tmp_path: Path) -> None:
    spool = CaptureSpool(tmp_path)
    clip = still(spool)
    clip.kind = "clip"
    recording = spool.clip_file(clip.key)
    recording.write_bytes(b"mp4")
    spool.add_clip(clip, recording)
    assert not recording.exists() and spool.path(clip).read_bytes() == b"mp4"
    assert CaptureSpool(tmp_path).captures()[0].file == f"{clip.key}.mp4"


def test_session_and_steps(tmp_path: Path) -> None:
    spool = CaptureSpool(tmp_path)
    assert spool.session() is None
    spool.save_session(Session(EXAM, "1.1", "1.2", "9.9"))
    step = Step("9.9", EXAM, "2026-12-07T10:00:00+08:00")
    spool.save_step(step)
    again = CaptureSpool(tmp_path)
    session = again.session()
    assert session is not None and session.exam == EXAM and session.step_uid == "9.9"
    assert [s.uid for s in again.steps()] == ["9.9"]
    step.done = True
    again.save_step(step)
    assert again.steps() == [] and again.step("9.9") == step
    again.save_session(None)
    assert again.session() is None


def test_old_sent_captures_are_pruned_never_unsent_ones(tmp_path: Path) -> None:
    spool = CaptureSpool(tmp_path)
    sent, unsent, deleted, fresh = (spool.add_still(still(spool, n), b"\xff\xd8") for n in range(4))
    spool.mark_sent(sent.key)
    spool.delete(deleted.key)
    step = Step("1.2.7", EXAM, "2026-12-07T10:00:00+08:00", created=True, done=True)
    spool.save_step(step)
    later = int(fresh.key.split("-")[0]) + 8 * 86400 * 10**9  # 8 days after the newest
    spool.mark_sent(fresh.key)
    ongoing = ExamContext("A2", "P2", "LI^SI", study_instance_uid="1.2.4")
    kept = spool.add_still(replace(still(spool, 5), exam=ongoing), b"\xff\xd8")
    spool.mark_sent(kept.key)

    assert spool.prune(7 * 86400, later, keep="A2") == 3  # sent, deleted, fresh
    assert not spool.path(sent).exists() and not (tmp_path / f"{sent.key}.json").exists()
    assert spool.path(unsent).exists() and spool.path(kept).exists()
    assert not (tmp_path / "steps" / "1.2.7.json").exists()
    again = CaptureSpool(tmp_path)
    assert {c.key: c.state for c in again.captures()} == {unsent.key: "taken", kept.key: "sent"}
    # Within the limit nothing goes, not even sent ones.
    assert again.prune(7 * 86400, later - 2 * 86400 * 10**9) == 0
    assert again.prune(7 * 86400, later) == 1  # the ongoing exam's, once it is not kept
    assert [c.key for c in again.unsent()] == [unsent.key]
