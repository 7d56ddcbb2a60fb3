"""HL7 test peers over real sockets: a client sending MLLP blocks (python-hl7's asyncio
streams) and a HIS listener that records what it receives and answers with an ACK."""

from __future__ import annotations

import asyncio
import threading
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor

import hl7
import hl7.mllp

from core_server.hl7.loop_thread import LoopThread


def send(
    port: int, *blocks: bytes, host: str = "127.0.0.1", source: str | None = None
) -> list[bytes]:
    """Send blocks on one connection, each answered before the next goes; the raw ACKs.
    ``source``: the address to send from (another loopback address, 127.0.0.2)."""

    async def exchange() -> list[bytes]:
        local = {"local_addr": (source, 0)} if source else {}
        reader, writer = await hl7.mllp.open_hl7_connection(host, port, **local)
        answers = []
        try:
            for block in blocks:
                writer.writeblock(block)
                await writer.drain()
                answers.append(await asyncio.wait_for(reader.readblock(), 60))
        finally:
            writer.close()
        return answers

    # On its own thread: the caller may be inside an event loop (Playwright's sync API).
    with ThreadPoolExecutor(1) as runner:
        return runner.submit(asyncio.run, exchange()).result()


def message(*segments: str, charset: str = "utf-8") -> bytes:
    return ("\r".join(segments) + "\r").encode(charset)


def ack_fields(ack: bytes, codec: str = "utf-8") -> dict[str, str]:
    """MSA-1/2/3 and ERR-2/3/8 of an ACK, read with python-hl7 (before v2.5, where ERR-1 is
    the only field of ERR, its location and code, and MSA-3 for the text)."""
    parsed = hl7.parse(ack.decode(codec))
    out = {
        "code": parsed["MSA.F1"],
        "control_id": parsed["MSA.F2"],
        "text": parsed["MSA.F3"],
        "type": str(parsed.segment("MSH")(9)),
    }
    if any(str(s[0]) == "ERR" for s in parsed):
        err = parsed.segment("ERR")
        if len(err) > 2:
            out["err_location"] = str(err(2))
            out["err_code"] = parsed["ERR.F3.R1.C1"]
            out["err_text"] = parsed["ERR.F8"]
        else:
            where = [parsed[f"ERR.F1.R1.C{n}"] for n in (1, 2, 3)]
            out["err_location"] = "^".join(where).rstrip("^")
            out["err_code"] = parsed["ERR.F1.R1.C4.S1"]
            out["err_text"] = out["text"]
    return out


def wait_for(condition: Callable[[], object], timeout: float = 30) -> object:
    """Poll until ``condition()`` is truthy (a deadline against hangs, not a timing check)."""
    deadline = time.monotonic() + timeout
    while True:
        result = condition()
        if result:
            return result
        if time.monotonic() > deadline:
            raise AssertionError(f"condition not met within {timeout} s")
        time.sleep(0.02)


class HisListener:
    """A HIS's MLLP receiver: records every message and answers ``answer`` (AA by default)."""

    def __init__(self, port: int = 0, answer: str = "AA") -> None:
        self.port = port
        self.answer = answer
        self.received: list[bytes] = []
        self._lock = threading.Lock()
        self._thread: LoopThread | None = None
        self._server: asyncio.Server | None = None

    def start(self) -> HisListener:
        thread = self._thread = LoopThread("his")
        thread.start()
        self._server = thread.run(
            hl7.mllp.start_hl7_server(self._connected, "127.0.0.1", self.port)
        )
        self.port = int(self._server.sockets[0].getsockname()[1])
        return self

    def stop(self) -> None:
        if self._thread is None:
            return

        async def close() -> None:
            assert self._server is not None
            self._server.close()
            await self._server.wait_closed()

        self._thread.run(close())
        self._thread.stop()
        self._thread = None

    def __enter__(self) -> HisListener:
        return self.start()

    def __exit__(self, *_exc: object) -> None:
        self.stop()

    @property
    def messages(self) -> list[bytes]:
        with self._lock:
            return list(self.received)

    async def _connected(
        self, reader: hl7.mllp.HL7StreamReader, writer: hl7.mllp.HL7StreamWriter
    ) -> None:
        try:
            while True:
                block = await reader.readblock()
                with self._lock:
                    self.received.append(block)
                text = block.decode("utf-8", "replace")
                control_id = hl7.parse(text.replace("\n", "\r"))["MSH.F10"]
                ack = (
                    f"MSH|^~\\&|HIS||PACS||20260101||ACK|A{control_id}|P|2.5\r"
                    f"MSA|{self.answer}|{control_id}|\r"
                )
                writer.writeblock(ack.encode())
                await writer.drain()
        except (asyncio.IncompleteReadError, ConnectionError):
            pass
        finally:
            writer.close()
