"""Who may send to the MLLP listener: the allow-list the administrator keeps on the HL7 page
(table ``hl7_allowed_senders``).

An entry names any of: the peer's address (an IP, or a network such as ``10.1.0.0/16``), the
sending application (MSH-3) and the sending facility (MSH-4); an empty part matches anything,
and a message is taken when one entry matches all it names. With no entry at all only peers on
this machine (loopback) are taken, so that a fresh install can be tried from the machine
itself while nothing from the network gets in until the administrator says who may. A message
from anyone else is refused with AR, logged, and listed as ``refused`` in the inbound log
(its header only: nothing of its content is kept), from where the page offers to allow it.
"""

from __future__ import annotations

import ipaddress
from dataclasses import asdict, dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Engine, delete, insert, select
from sqlalchemy.exc import IntegrityError

from core_server import clock, db
from core_server.hl7.tables import hl7_allowed_senders as senders
from core_server.refusals import Refusal

Network = ipaddress.IPv4Network | ipaddress.IPv6Network


class SenderError(Refusal):
    status = 422


@dataclass(frozen=True)
class AllowedSender:
    id: int
    address: str
    sending_application: str
    sending_facility: str
    note: str
    created_by: str
    created_at: datetime

    def as_dict(self) -> dict[str, Any]:
        return {**asdict(self), "created_at": clock.iso(self.created_at)}

    def matches(self, peer: str, application: str, facility: str) -> bool:
        if self.address and not _in(peer, self.address):
            return False
        if self.sending_application and self.sending_application.upper() != application.upper():
            return False
        return not self.sending_facility or self.sending_facility.upper() == facility.upper()


def peer_address(peer: str) -> str:
    """The IP of a peer as the listener writes it, ``address:port`` (``::1:5000`` for IPv6:
    the port is after the last colon)."""
    return peer.rsplit(":", 1)[0].strip("[]") if ":" in peer else peer


def _in(address: str, network: str) -> bool:
    try:
        ip = ipaddress.ip_address(address)
        if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
            ip = ip.ipv4_mapped
        return ip in ipaddress.ip_network(network, strict=False)
    except ValueError:
        return False


def is_loopback(address: str) -> bool:
    return _in(address, "127.0.0.0/8") or _in(address, "::1/128")


def allows(entries: list[AllowedSender], address: str, application: str, facility: str) -> bool:
    """Whether a message from ``address`` with MSH-3 ``application`` and MSH-4 ``facility``
    is taken (see the module's docstring)."""
    if not entries:
        return is_loopback(address)
    return any(entry.matches(address, application, facility) for entry in entries)


def list_senders(engine: Engine) -> list[AllowedSender]:
    with db.read(engine) as conn:
        rows = conn.execute(select(senders).order_by(senders.c.id)).all()
    return [AllowedSender(**row._mapping) for row in rows]


def add_sender(
    engine: Engine,
    *,
    address: str = "",
    sending_application: str = "",
    sending_facility: str = "",
    note: str = "",
    by: str = "",
) -> AllowedSender:
    address, application, facility = (
        address.strip(),
        sending_application.strip(),
        sending_facility.strip(),
    )
    if not (address or application or facility):
        raise SenderError("hl7.sender.empty")
    if address:
        try:
            address = str(ipaddress.ip_network(address, strict=False))
        except ValueError:
            raise SenderError("hl7.sender.address", address=address) from None
        if address.endswith(("/32", "/128")):
            address = address.rsplit("/", 1)[0]  # one machine: written as its address
    values: dict[str, Any] = {
        "address": address,
        "sending_application": application[:180],
        "sending_facility": facility[:180],
        "note": note.strip()[:255],
        "created_by": by[:64],
        "created_at": clock.now(),
    }
    try:
        with db.write(engine) as conn:
            key = conn.execute(insert(senders).values(values)).inserted_primary_key
    except IntegrityError:
        raise SenderError("hl7.sender.exists", 409) from None
    assert key is not None
    return AllowedSender(id=int(key[0]), **values)


def remove_sender(engine: Engine, sender_id: int) -> AllowedSender:
    found = [s for s in list_senders(engine) if s.id == sender_id]
    if not found:
        raise SenderError("hl7.sender.unknown", 404, id=sender_id)
    with db.write(engine) as conn:
        conn.execute(delete(senders).where(senders.c.id == sender_id))
    return found[0]
