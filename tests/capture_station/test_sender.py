"""The background sender against a real pynetdicom storage SCP: nothing is marked sent while
the SCP is down or refuses; when it comes back every capture arrives once; deleted captures
never leave; the thread wakes on new work."""

from __future__ import annotations

import time
from pathlib import Path

from capture_station.contract import Capture, ExamContext, StationIdentity
from capture_station.sender import Peer, Sender
from capture_station.spool import CaptureSpool
from tests.capture_station.stand_ins import StorageScp, dataset

EXAM = ExamContext("A1", "P1", "WANG^JIANGUO=王^建国", study_instance_uid="1.2.3.4")
STATION = StationIdentity("WEIJING1", "WEIJING1")


def take(spool: CaptureSpool, number: int) -> Capture:
    capture = Capture(
        spool.new_key(),
        "still",
        f"1.2.3.4.5.{number}",
        "1.2.3.4.6",
        EXAM,
        "2026-12-07T10:00:00+08:00",
        "",
        4,
        4,
        number,
    )
    return spool.add_still(capture, b"\xff\xd8")


def sender(spool: CaptureSpool, scp: StorageScp) -> Sender:
    return Sender(spool, STATION, Peer("127.0.0.1", scp.port, scp.ae_title, timeout=3), dataset)


def test_down_refusing_then_back(tmp_path: Path) -> None:
    spool = CaptureSpool(tmp_path)
    scp = StorageScp()  # not started: down
    taken = [take(spool, n) for n in (1, 2, 3)]
    one = sender(spool, scp)
    try:
        one.send_pending()
    except ConnectionError:
        pass
    else:
        raise AssertionError("sending to a closed port must fail")
    assert len(spool.unsent()) == 3
    scp.start()
    try:
        scp.status = 0xA700  # out of resources: not stored
        try:
            one.send_pending()
        except RuntimeError as error:
            assert "0xA700" in str(error)
        assert len(spool.unsent()) == 3 and spool.captures()[0].attempts == 1
        scp.status = 0x0000
        assert spool.delete(taken[1].key)
        assert one.send_pending()
        assert scp.received == [taken[0].sop_instance_uid, taken[2].sop_instance_uid]
        assert spool.unsent() == [] and one.take_sent() == {taken[0].key, taken[2].key}
        assert {c.state for c in CaptureSpool(tmp_path).captures()} == {"sent", "deleted"}
        assert not one.send_pending()  # nothing left
    finally:
        one.stop()
        scp.stop()


def test_the_thread_backs_off_and_recovers(tmp_path: Path) -> None:
    spool = CaptureSpool(tmp_path)
    scp = StorageScp()
    running = Sender(
        spool,
        STATION,
        Peer("127.0.0.1", scp.port, "CORE", timeout=3),
        dataset,
        min_delay=0.05,
        max_delay=0.2,
    ).start()
    try:
        take(spool, 1)
        running.wake()
        deadline = time.monotonic() + 10
        while running.online and time.monotonic() < deadline:
            time.sleep(0.02)
        assert not running.online and running.last_error
        scp.start()
        take(spool, 2)
        running.wake()
        while spool.unsent() and time.monotonic() < deadline + 10:
            time.sleep(0.02)
        assert spool.unsent() == [] and running.online
        assert sorted(scp.received) == ["1.2.3.4.5.1", "1.2.3.4.5.2"]
    finally:
        running.stop()
        scp.stop()
