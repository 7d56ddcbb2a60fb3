"""The outbound sender: claims due jobs of the queue and sends them over MLLP.

It wakes when this process queues a job and otherwise looks for due jobs every
``poll_seconds`` (jobs queued by other core processes, back-offs that ran out). Each message
goes on its own connection and waits for its ACK (MSA-2 must echo its control ID).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable, Sequence

import hl7.mllp
from sqlalchemy import Engine

from core_server import jobs, tls
from core_server.hl7 import charsets, outbound
from core_server.hl7.loop_thread import LoopThread
from core_server.hl7.message import parse, value

log = logging.getLogger(__name__)

CONNECT_TIMEOUT = 10.0


class Sender:
    """``feeders`` run before each round (in the sender's worker threads): they turn durable
    records of other domains into jobs (the RIS's status history, :mod:`.status`), so that
    what they queue goes out in the same round and is looked for again every poll."""

    def __init__(
        self,
        engine: Engine,
        poll_seconds: float = 1.0,
        feeders: Sequence[Callable[[], object]] = (),
        tls_files: tls.Files | None = None,
    ) -> None:
        self.engine = engine
        self.tls_files = tls_files  # for destinations marked tls (docs/tls.md)
        self.poll_seconds = poll_seconds
        self.feeders = list(feeders)
        self.owner = jobs.this_process()
        self._thread: LoopThread | None = None
        self._wake: asyncio.Event | None = None
        self._task: asyncio.Task[None] | None = None
        self._stopping = False

    @property
    def running(self) -> bool:
        return self._task is not None and not self._task.done()

    def start(self) -> None:
        released = outbound.release_gone(self.engine)  # a crashed predecessor's sends
        if released:
            log.warning("HL7 sender: %d job(s) a stopped core was sending are due again", released)
        thread = self._thread = LoopThread("hl7-sender", workers=2)
        self._stopping = False
        thread.start()

        async def begin() -> None:
            self._wake = asyncio.Event()
            self._task = asyncio.get_running_loop().create_task(self._run())

        thread.run(begin())

    def stop(self) -> None:
        if self._thread is None:
            return

        async def end() -> None:
            # The flag as well as the cancel: Python 3.11's wait_for can swallow a
            # cancellation that meets its inner wait finishing (the 50 ms poll), and the loop
            # would then run on; it looks at the flag before every round.
            self._stopping = True
            if self._wake is not None:
                self._wake.set()
            if self._task is not None:
                self._task.cancel()
                await asyncio.gather(self._task, return_exceptions=True)

        self._thread.run(end())
        self._thread.stop()
        self._thread = None

    def wake(self) -> None:
        """Look for due jobs now (called after queueing one); safe from any thread."""
        thread, wake = self._thread, self._wake
        if thread is not None and wake is not None:
            thread.loop.call_soon_threadsafe(wake.set)

    async def _run(self) -> None:
        assert self._thread is not None and self._wake is not None
        loop = asyncio.get_running_loop()
        while not self._stopping:
            # Cleared before looking, so a wake-up that comes while jobs are sent (a job
            # queued, a destination's next job due) is not lost.
            self._wake.clear()
            for feed in self.feeders:
                try:
                    await loop.run_in_executor(self._thread.executor, feed)
                except asyncio.CancelledError:
                    raise
                except Exception:
                    log.exception("HL7 sender: %s failed", getattr(feed, "__qualname__", feed))
            try:
                heads = await loop.run_in_executor(
                    self._thread.executor, outbound.due_heads, self.engine
                )
                # Destinations are independent: one that hangs does not hold up the others.
                await asyncio.gather(*(self._try(job_id) for job_id in heads))
            except asyncio.CancelledError:
                raise
            except Exception:
                log.exception("HL7 sender: looking for due jobs failed")
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wake.wait(), self.poll_seconds)

    async def _try(self, job_id: int) -> None:
        assert self._thread is not None
        loop = asyncio.get_running_loop()
        executor = self._thread.executor
        claimed = await loop.run_in_executor(
            executor, outbound.claim, self.engine, job_id, self.owner
        )
        if claimed is None:
            return
        ack_code: str | None = None
        ack: str | None = None
        error = ""
        try:
            ack = await self._send(claimed)
            parsed = parse(ack)
            ack_code = value(parsed, "MSA", 1).upper() or None
            if value(parsed, "MSA", 2) != claimed.control_id:
                ack_code, error = None, "the ACK's MSA-2 does not echo the message control ID"
            elif ack_code not in ("AA", "CA"):
                error = value(parsed, "MSA", 3) or value(parsed, "ERR", 8) or f"ACK {ack_code}"
        except (OSError, TimeoutError, asyncio.IncompleteReadError) as exc:
            error = f"{type(exc).__name__}: {exc}" if str(exc) else type(exc).__name__
        except Exception as exc:  # an unreadable ACK counts as a failed try
            error = f"{type(exc).__name__}: {exc}"
        status = await loop.run_in_executor(
            executor,
            lambda: outbound.finish(
                self.engine, claimed, self.owner, ack_code=ack_code, ack=ack, error=error
            ),
        )
        level = logging.INFO if status == "sent" else logging.WARNING
        log.log(
            level,
            "HL7 job %d to %s, try %d: %s %s",
            claimed.job_id,
            claimed.destination.name,
            claimed.attempt,
            status,
            error,
        )
        if status == "sent":
            self.wake()  # the destination's next job may go at once

    async def _send(self, claimed: outbound.Claimed) -> str:
        destination = claimed.destination
        options: dict[str, object] = {}
        if destination.tls:
            if self.tls_files is None:
                raise ConnectionRefusedError("TLS destination but no TLS settings")
            # Host names are not checked (destinations are known by address), the CA is.
            options = {"ssl": tls.outgoing(self.tls_files), "server_hostname": ""}
        reader, writer = await asyncio.wait_for(
            hl7.mllp.open_hl7_connection(destination.host, destination.port, **options),
            CONNECT_TIMEOUT,
        )
        try:
            writer.writeblock(claimed.message)
            await writer.drain()
            block = await asyncio.wait_for(reader.readblock(), destination.ack_timeout_seconds)
        finally:
            writer.close()
        try:
            return charsets.decode(block)[0]
        except charsets.CharsetError:
            return block.decode(destination.codec, "replace")
