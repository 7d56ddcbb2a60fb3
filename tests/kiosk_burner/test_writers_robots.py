"""Epson TD Bridge and Primera PTBurn against fake robots (tests/kiosk_burner/robots.py) that
watch the hot folder from their own thread: burn ok, a burn error -> the job's reason, ink out
-> RobotState.ok False with out_of_ink, cancel; job files only ever appear complete; 王建国
survives the robot's encoding."""

from __future__ import annotations

import contextlib
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from kiosk_burner.contract import WriterProgress
from kiosk_burner.hardware import EpsonTdBridge, PrimeraPtBurn
from tests.kiosk_burner.robots import FakePtBurn, FakeRobot, FakeTdBridge
from tests.kiosk_burner.writer_fixtures import LABEL, final, make_disc, wait_for

RobotWriter = EpsonTdBridge | PrimeraPtBurn

KINDS = ["epson", "primera"]


def _pair(kind: str, hot: Path, encoding: str = "gb18030") -> tuple[RobotWriter, FakeRobot]:
    if kind == "epson":
        return EpsonTdBridge(hot, encoding=encoding), FakeTdBridge(hot, encoding)
    return PrimeraPtBurn(hot, encoding=encoding), FakePtBurn(hot, encoding)


@pytest.fixture(params=KINDS)
def robot(
    request: pytest.FixtureRequest, tmp_path: Path
) -> Iterator[tuple[RobotWriter, FakeRobot]]:
    writer, fake = _pair(request.param, tmp_path / "hot")
    fake.start()
    yield writer, fake
    fake.stop()


def test_burn_ok(robot: tuple[RobotWriter, FakeRobot], tmp_path: Path) -> None:
    writer, fake = robot
    disc = make_disc(tmp_path)
    wait_for(writer.robot_state, lambda s: s.ok)
    writer.submit(disc, LABEL, 2, "job12-d1")
    writer.submit(disc, LABEL, 2, "job12-d1")  # idempotent: one job only
    states: list[WriterProgress] = []
    result = wait_for(lambda: _seen(writer.progress("job12-d1"), states), final)
    assert result.state == "done"
    assert {"burning", "labelling"} <= {s.state for s in states}
    assert list(fake.jobs) == ["job12-d1"]
    job = dict(fake.jobs["job12-d1"])
    copies = job.get("COPIES") or job.get("Copies")
    image = Path(job.get("IMAGE") or job["ImageFile"])
    assert copies == "2" and image.read_bytes() == disc.iso_path.read_bytes()
    state = writer.robot_state()
    assert state.ok and state.discs_left == 49 and state.ink_percent["cyan"] == 80


def _seen(progress: WriterProgress, states: list[WriterProgress]) -> WriterProgress:
    states.append(progress)
    return progress


def test_burn_error_gives_the_job_its_reason(
    robot: tuple[RobotWriter, FakeRobot], tmp_path: Path
) -> None:
    writer, fake = robot
    fake.scenario["k"] = "error:Verify error on drive 1"
    writer.submit(make_disc(tmp_path), LABEL, 1, "k")
    result = wait_for(lambda: writer.progress("k"), final)
    assert (result.state, result.reason) == ("failed", "verify_failed")
    assert "Verify error" in result.detail


def test_ink_out_stops_the_robot(robot: tuple[RobotWriter, FakeRobot], tmp_path: Path) -> None:
    writer, fake = robot
    fake.scenario["k"] = "ink_out"
    writer.submit(make_disc(tmp_path), LABEL, 1, "k")
    result = wait_for(lambda: writer.progress("k"), final)
    assert (result.state, result.reason) == ("failed", "out_of_ink")
    state = wait_for(writer.robot_state, lambda s: not s.ok)
    assert "out_of_ink" in state.problems and state.ink_percent["cyan"] == 0


def test_cancel_a_running_job(robot: tuple[RobotWriter, FakeRobot], tmp_path: Path) -> None:
    writer, fake = robot
    fake.scenario["k"] = "hold"
    writer.submit(make_disc(tmp_path), LABEL, 1, "k")
    wait_for(lambda: writer.progress("k"), lambda p: p.state == "burning")
    writer.cancel("k")
    assert writer.progress("k").state == "cancelled"
    # the robot got the request and ended the job; the writer still says cancelled (the
    # disc, burned or not, is not handed out as done)
    ended = writer.hot_folder / "k.ERR"
    wait_for(lambda: writer.progress("k"), lambda p: ended.exists())
    assert writer.progress("k").state == "cancelled"


@pytest.mark.parametrize("kind", KINDS)
def test_cancel_before_the_robot_takes_it(kind: str, tmp_path: Path) -> None:
    writer, _ = _pair(kind, tmp_path / "hot")  # no robot running
    writer.submit(make_disc(tmp_path), LABEL, 1, "k")
    assert writer.progress("k").state == "queued"
    writer.cancel("k")
    assert writer.progress("k").state == "cancelled"
    assert not writer.job_file("k").exists()


@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize("encoding", ["gb18030", "utf-8-sig"])
def test_chinese_survives_the_robots_encoding(kind: str, encoding: str, tmp_path: Path) -> None:
    writer, _ = _pair(kind, tmp_path / "hot", encoding)
    if kind == "primera":
        writer.label_template = r"D:\labels\pacs.std"  # merge fields go into the JRQ itself
    writer.submit(make_disc(tmp_path), LABEL, 1, "k")
    job = writer.job_file("k").read_bytes()
    fields = writer.data_file("k", ".TXT").read_bytes() if kind == "epson" else job
    assert "王建国".encode(encoding.removesuffix("-sig")) in fields
    assert fields.decode(encoding).count("王建国") == 1
    if encoding == "gb18030":
        assert fields.decode("gbk")  # a GBK (CP936) reader takes it as well
        assert b"\xcd\xf5\xbd\xa8\xb9\xfa" in fields  # 王建国 in GBK
    assert b"\r\n" in job  # Windows lines


def test_job_files_appear_only_complete(tmp_path: Path) -> None:
    """A watcher polling as fast as it can never sees a partial JDF: it is renamed into place."""
    hot = tmp_path / "hot"
    writer = EpsonTdBridge(hot, robot_path=r"\\kiosk\discs")
    disc = make_disc(tmp_path)
    seen: list[bytes] = []
    stop = threading.Event()

    def watch() -> None:
        while not stop.is_set():
            for job in hot.glob("*.JDF"):
                with contextlib.suppress(FileNotFoundError):
                    seen.append(job.read_bytes())

    watcher = threading.Thread(target=watch)
    watcher.start()
    for n in range(20):
        writer.submit(disc, LABEL, 1, f"k{n}")
    time.sleep(0.05)
    stop.set()
    watcher.join()
    assert seen
    assert all(d.startswith(b"JOB_ID=k") and d.endswith(b".TXT\r\n") for d in seen)
    assert b"IMAGE=\\\\kiosk\\discs\\k0.iso\r\n" in (hot / "k0.JDF").read_bytes()


def test_a_stale_status_file_means_the_bridge_is_down(tmp_path: Path) -> None:
    writer, fake = _pair("epson", tmp_path / "hot")
    fake.write_status({})
    assert writer.robot_state().ok
    writer.status_max_age = 0.0
    time.sleep(0.01)
    state = writer.robot_state()
    assert not state.ok and state.problems == ("robot_error",)
