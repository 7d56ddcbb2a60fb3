"""Pending C-FIND answers gathered and sent together: several P-DATA-TF PDUs per system call.

A day's C-FIND or worklist has about 90 answers; one system call (and, over TLS, one record)
per answer was 5-7 % of the query's CPU. The PDUs are the ones sent before, one PDV each (an
answer's command set, then its data set); only their sending is gathered: they go out once
enough bytes are waiting or the query ends. An answer too long for one PDU of the
requestor's maximum goes out alone, fragmented as before.

Several answers' PDVs in one PDU (which PS3.8 allows) were tried and dropped: pynetdicom's
requestor reads a PDU's PDVs only up to the end of the first message it completes, and lost
every other answer (``tests/core_server/dicom/test_answer_pdus.py`` found it); modalities'
own DICOM stacks may well do the same.
"""

from __future__ import annotations

import socket
import struct
from collections.abc import Callable

_PDU_HEAD = struct.Struct(">BBI")  # P-DATA-TF (0x04), reserved, length of what follows
_PDV_HEAD = struct.Struct(">IBB")  # item length, presentation context, control header
COMMAND_LAST, DATA_LAST = 0x03, 0x02
FLUSH_BYTES = 64 * 1024  # gathered before a send: a few dozen answers


class AnswerPdus:
    """The pending answers of one query on one presentation context."""

    def __init__(
        self,
        sock: socket.socket,
        context_id: int,
        peer_max_pdu: int,
        send_split: Callable[[bytes, bytes], None],
        flush_bytes: int = FLUSH_BYTES,
    ) -> None:
        self.sock = sock
        self.context_id = context_id
        # The requestor's Maximum Length Received bounds a PDU's PDV item (0: no limit).
        self.limit = peer_max_pdu or 1 << 31
        self.send_split = send_split  # a message sent alone, fragmented as needed
        self.flush_bytes = flush_bytes
        self.pdus: list[bytes] = []  # the PDUs' parts, waiting
        self.gathered = 0

    def add(self, command: bytes, data: bytes) -> None:
        """One answer: its command set and (possibly empty) data set, encoded."""
        if len(data) + _PDV_HEAD.size > self.limit or len(command) + _PDV_HEAD.size > self.limit:
            self.flush()
            self.send_split(command, data)
            return
        self._pdu(command, COMMAND_LAST)
        if data:
            self._pdu(data, DATA_LAST)
        if self.gathered >= self.flush_bytes:
            self.flush()

    def flush(self) -> None:
        """Everything gathered, in one send."""
        if self.pdus:
            pdus, self.pdus, self.gathered = self.pdus, [], 0
            self.sock.sendall(b"".join(pdus))

    def _pdu(self, fragment: bytes, control: int) -> None:
        """One P-DATA-TF PDU holding one PDV: the whole command set or data set."""
        pdv = _PDV_HEAD.pack(len(fragment) + 2, self.context_id, control)
        self.pdus += (_PDU_HEAD.pack(0x04, 0, len(pdv) + len(fragment)), pdv, fragment)
        self.gathered += _PDU_HEAD.size + len(pdv) + len(fragment)
