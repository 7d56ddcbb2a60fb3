"""The MLLP listener: HL7 v2 messages in, acknowledgements out (python-hl7's asyncio streams).

Each connection is read block by block as raw bytes (the character set is inside the message,
see ``charsets``); messages of one connection are handled in order, each on the thread pool,
and each answered before the next is read, as MLLP's original mode expects.
"""

from __future__ import annotations

import asyncio
import logging
import ssl

import hl7.mllp
from hl7.mllp import InvalidBlockError

from core_server.hl7.inbound import Receiver
from core_server.hl7.loop_thread import LoopThread

log = logging.getLogger(__name__)

MAX_MESSAGE_BYTES = 16 * 1024 * 1024


class MllpListener:
    def __init__(
        self, receiver: Receiver, host: str, port: int, tls: ssl.SSLContext | None = None
    ) -> None:
        self.receiver = receiver
        self.tls = tls  # MLLP over TLS: the handshake by asyncio, within 30 s
        self.host = host
        self.port = port
        self._thread: LoopThread | None = None
        self._server: asyncio.Server | None = None
        self._connections: set[asyncio.Task[None]] = set()

    @property
    def running(self) -> bool:
        return self._server is not None and self._thread is not None and self._thread.alive

    def start(self) -> None:
        thread = self._thread = LoopThread("hl7-listener")
        thread.start()
        try:
            self._server = thread.run(self._listen())
        except BaseException:
            thread.stop()
            self._thread = None
            raise
        for bound in self._server.sockets:  # the port actually bound (the setting may be 0)
            self.port = int(bound.getsockname()[1])
        log.info("HL7 MLLP listener on %s:%d%s", self.host, self.port, " (TLS)" if self.tls else "")

    def stop(self) -> None:
        if self._thread is None:
            return
        self._thread.run(self._close())
        self._thread.stop()
        self._thread = None
        self._server = None

    async def _listen(self) -> asyncio.Server:
        if self.tls is None:
            return await hl7.mllp.start_hl7_server(
                self._connected, self.host, self.port, limit=MAX_MESSAGE_BYTES
            )
        return await hl7.mllp.start_hl7_server(
            self._connected,
            self.host,
            self.port,
            limit=MAX_MESSAGE_BYTES,
            ssl=self.tls,
            ssl_handshake_timeout=30,
        )

    async def _close(self) -> None:
        if self._server is not None:
            self._server.close()
        for task in list(self._connections):
            task.cancel()
        await asyncio.gather(*self._connections, return_exceptions=True)
        if self._server is not None:
            await self._server.wait_closed()

    def _connected(
        self, reader: hl7.mllp.HL7StreamReader, writer: hl7.mllp.HL7StreamWriter
    ) -> None:
        task = asyncio.get_running_loop().create_task(self._serve(reader, writer))
        self._connections.add(task)
        task.add_done_callback(self._connections.discard)

    async def _serve(
        self, reader: hl7.mllp.HL7StreamReader, writer: hl7.mllp.HL7StreamWriter
    ) -> None:
        address = writer.get_extra_info("peername")
        peer = f"{address[0]}:{address[1]}" if address else ""
        loop = asyncio.get_running_loop()
        try:
            while True:
                try:
                    raw = await reader.readblock()
                except asyncio.IncompleteReadError as exc:
                    if exc.partial.strip():
                        log.warning("HL7 %s closed in the middle of a message", peer)
                    break
                except InvalidBlockError:
                    answer = self.receiver.reject("the block does not begin with <VT> (0x0B)")
                except ValueError:
                    answer = self.receiver.reject(
                        f"the message is larger than {MAX_MESSAGE_BYTES} bytes"
                    )
                else:
                    assert self._thread is not None
                    answer = await loop.run_in_executor(
                        self._thread.executor, self.receiver.handle, raw, peer
                    )
                writer.writeblock(answer)
                await writer.drain()
        except ConnectionError as exc:
            log.info("HL7 connection %s lost: %s", peer, exc)
        finally:
            writer.close()
