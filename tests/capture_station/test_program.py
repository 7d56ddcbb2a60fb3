"""The real capture station as a subprocess against a running core (testsrc as the grabber,
pedal presses into an ``events:`` FIFO, the scope tag read by a serial scanner on a pty, SDL's
dummy screen): the scope's warning holds capture until "continue anyway", which is recorded;
the supervisor's viewer gets live JPEG frames only while it watches; a clip started and stopped
by the pedal reaches the archive and decodes back with PyAV (frame count, size)."""

from __future__ import annotations

import io
import json
import os
import pty
import re
import struct
import subprocess
from collections.abc import Iterator
from pathlib import Path

import av
import pytest
from PIL import Image
from pydicom import dcmread
from pydicom.encaps import generate_frames
from websockets.sync.client import connect

from core_server import auth
from core_server.ris import OrderIn, PatientIn, ProcedureRequest
from tests.conftest import RunningCore
from tests.e2e.test_capture_station_crash import ROOT, Station, wait_for, wait_for_quiet

KEYS = {"KEY_ENTER": 28, "KEY_B": 48, "KEY_E": 18, "KEY_A": 30, "KEY_F": 33}
PASSWORD = "Head-password-2026"
NEVER = "capture.scope.never_disinfected"


class ScopeStation(Station):
    """The crash test's station with the clip and "continue anyway" pedals and a scanner."""

    def __init__(self, core: RunningCore, state: Path, scanner: str) -> None:
        super().__init__(core, state)
        self.env["CAPTURE_STATION_PEDAL_KEYS"] = json.dumps(
            {"KEY_B": "still", "KEY_ENTER": "pick", "KEY_E": "end", "KEY_A": "clip",
             "KEY_F": "scope_accept"}
        )  # fmt: skip
        self.env["CAPTURE_STATION_SCOPE_CHECK"] = "true"
        self.env["CAPTURE_STATION_SCOPE_SCANNER"] = f"serial:{scanner}"
        self.env["CAPTURE_STATION_SCOPE_WAIT_SECONDS"] = "60"  # the core is up: wait for it

    def press(self, key: str) -> None:
        code = KEYS[key]
        records = b"".join(
            struct.pack("llHHi", 0, 0, t, c, v)
            for t, c, v in ((1, code, 1), (0, 0, 0), (1, code, 0), (0, 0, 0))
        )
        os.write(self.pedal, records)

    def session(self) -> dict[str, object]:
        path = self.state / "captures" / "session.json"
        return json.loads(path.read_text(encoding="utf-8")) if path.exists() else {}


@pytest.fixture
def station(core: RunningCore, tmp_path: Path) -> Iterator[tuple[ScopeStation, int, int]]:
    core.register("WEIJING1", port=11112)
    auth.create_user(core.core.engine, "wu.head", PASSWORD, "department_head", "吴主任")
    ris = core.core.ris
    ris.register_patient(PatientIn("P7", "WANG^JIANGUO=王^建国"), username="reg")
    exam = ris.place_order(
        "P7", "", OrderIn("O7", (ProcedureRequest("ES-GASTRO", station_ae="WEIJING1"),)),
        username="reg",
    ).exams[0]  # fmt: skip
    ris.check_in(exam.id, username="desk")
    with core.api() as admin:
        assert admin.post("/api/capture/scopes", json={"code": "GS-02"}).status_code == 201
        key = admin.post("/api/queueing/devices", json={"name": "WEIJING1", "kind": "capture"})
        assert key.status_code == 201, key.text
    master, slave = pty.openpty()
    state = tmp_path / "station"
    state.mkdir()
    station = ScopeStation(core, state, os.ttyname(slave))
    enrolled = station.command("enrol", "--core-url", core.base_url, "--key", key.json()["key"])
    done = subprocess.run(enrolled, env=station.env, cwd=ROOT, capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    try:
        station.start()
        yield station, exam.id, master
    finally:
        station.stop()
        os.close(master)
        os.close(slave)


def test_scope_live_view_and_a_clip_through_the_program(
    core: RunningCore, station: tuple[ScopeStation, int, int]
) -> None:
    program, exam_id, scanner = station
    ris = core.core.ris

    def picked() -> bool:
        program.press("KEY_ENTER")
        return bool(wait_for_quiet(lambda: program.session()))

    wait_for(picked, 60)
    program.press("KEY_B")  # no scope yet: nothing taken
    os.write(scanner, b"GS-02\r\n")
    scope = wait_for(lambda: program.session().get("scope", {}).get("status") == "warned" and
                     program.session()["scope"], 30)  # fmt: skip
    assert scope["warning"] == NEVER  # type: ignore[index]
    program.press("KEY_B")  # warned: still nothing taken
    program.press("KEY_F")  # continue anyway
    wait_for(lambda: program.session()["scope"]["status"] == "accepted", 30)  # type: ignore[index]
    assert program.records() == []
    accepted_at = program.session()["scope"]["accepted_at"]  # type: ignore[index]
    assert re.match(r"\d{4}-\d\d-\d\dT.*\+08:00$", str(accepted_at))
    with core.api() as admin:
        used = admin.get(f"/api/capture/exams/{exam_id}/scope").json()
    assert used["scope"]["code"] == "GS-02" and used["warning"] == NEVER

    # Stills and a clip after "continue anyway" (pressed until the grabber has frames).
    def still() -> bool:
        program.press("KEY_B")
        return bool(wait_for_quiet(lambda: program.records(), 1.0))

    wait_for(still, 30)
    program.press("KEY_A")
    wait_for(lambda: list((program.state / "captures").glob(".*.mp4.recording.part")), 10)
    watch_live(core)
    program.press("KEY_A")
    clips = wait_for(lambda: [r for r in program.records() if r["kind"] == "clip"], 30)
    clip = clips[0]  # type: ignore[index]
    # Every capture carries the decision taken before it.
    assert all(r["extra"]["scope"]["status"] == "accepted" for r in program.records())
    wait_for(lambda: all(r["state"] == "sent" for r in program.records()), 60)
    program.press("KEY_E")
    wait_for(lambda: ris.exam(exam_id).status == "completed", 60)
    stopped = program.log()
    assert program.process is not None
    program.process.terminate()  # SIGTERM: the normal exit, the feed stopped on the way out
    program.process.wait(15)
    log = program.log()
    sent = [int(n) for n in re.findall(r"live view no longer watched: (\d+) frames sent", log)]
    assert "live view watched: 0 frames sent" in stopped  # nothing before the viewer came
    assert sent and f"live feed stopped: {sent[-1]} frames sent" in log  # none after it left

    # The archived clip decodes back: its frames and size.
    found = core.core.archive.locate({"SOPInstanceUID": str(clip["sop_instance_uid"])})
    assert len(found) == 1
    ds = dcmread(found[0].path)
    (stream,) = generate_frames(ds.PixelData, number_of_frames=1)
    with av.open(io.BytesIO(stream)) as container:  # one fragment, the whole MP4
        frames = [f.to_ndarray(format="rgb24") for f in container.decode(video=0)]
    assert len(frames) == int(clip["frames"]) > 10  # type: ignore[arg-type]
    assert frames[0].shape == (240, 320, 3) and (ds.Rows, ds.Columns) == (240, 320)


def watch_live(core: RunningCore) -> None:
    """A department head's viewer of the room: three JPEG frames of the station's picture."""
    url = core.base_url.replace("http://", "ws://") + "/api/capture/live/rooms/WEIJING1"
    headers = {"Authorization": f"Bearer {core.token('wu.head', PASSWORD)}"}
    with connect(url, additional_headers=headers) as viewer:
        for _ in range(3):
            data = viewer.recv(timeout=15)
            assert isinstance(data, bytes)
            image = Image.open(io.BytesIO(data))
            assert image.format == "JPEG" and image.size == (320, 240)
