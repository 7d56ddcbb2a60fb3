"""python-escpos's network back-end against a small TCP printer on a free port that answers
the real-time paper status request (DLE EOT 4) like an Epson-compatible printer."""

from __future__ import annotations

import socket
import threading
from collections.abc import Iterator

import pytest

from device_kit.drivers import HardwareError
from tests.ticket_printer.tickets import ticket
from ticket_printer.hardware import FS_CHINESE_OFF, FS_CHINESE_ON, EscposPrinter

PAPER_STATUS = b"\x10\x04\x04"  # DLE EOT 4
PAPER_OK, PAPER_OUT = 0x12, 0x72


class NetworkPrinter:
    def __init__(self) -> None:
        self.paper = PAPER_OK
        self.received = bytearray()
        self._server = socket.create_server(("127.0.0.1", 0))
        self.port = self._server.getsockname()[1]
        threading.Thread(target=self._serve, daemon=True).start()

    def _serve(self) -> None:
        while True:
            try:
                connection, _ = self._server.accept()
            except OSError:
                return
            with connection:
                while data := connection.recv(65536):
                    if PAPER_STATUS in data:
                        connection.sendall(bytes([self.paper]))
                        data = data.replace(PAPER_STATUS, b"")
                    self.received += data

    def close(self) -> None:
        self._server.close()


@pytest.fixture
def network_printer() -> Iterator[NetworkPrinter]:
    printer = NetworkPrinter()
    yield printer
    printer.close()


def test_prints_when_paper_is_there_and_refuses_when_out(network_printer: NetworkPrinter) -> None:
    printer = EscposPrinter(f"network:127.0.0.1:{network_printer.port}", "fs_and")
    assert printer.paper() == "ok"
    printer.print_ticket(ticket())
    assert (
        FS_CHINESE_ON + "某某市人民医院".encode("gb18030") + FS_CHINESE_OFF
        in network_printer.received
    )

    network_printer.paper = PAPER_OUT
    network_printer.received.clear()
    assert printer.paper() == "out"
    with pytest.raises(HardwareError) as failure:
        printer.print_ticket(ticket())
    assert failure.value.reason == "paper_out"
    assert b"CT016" not in network_printer.received  # nothing printed on an empty roll


def test_status_can_be_switched_off_for_printers_that_never_answer(
    network_printer: NetworkPrinter,
) -> None:
    network_printer.paper = PAPER_OUT  # it would say "out", but nobody asks
    printer = EscposPrinter(f"network:127.0.0.1:{network_printer.port}", ask_status=False)
    assert printer.paper() == "ok"
    printer.print_ticket(ticket())
    # The test printer serves one connection after the other: a status round trip after the
    # ticket means the ticket's bytes were all read.
    EscposPrinter(f"network:127.0.0.1:{network_printer.port}").paper()
    assert b"CT016" in network_printer.received
