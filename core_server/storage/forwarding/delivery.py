"""What a sender reports of one batch, per SOP instance."""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass
class Delivery:
    """``sent``: stored by the peer; ``committed``: and its storage commitment said so;
    ``failed``: refused, with the reason and whether trying again is pointless (a refusal
    for good is a dead letter at once); ``error``: why the rest was not sent (the connection
    failed): each of those tasks is tried again after its back-off."""

    sent: set[str] = field(default_factory=set)
    committed: set[str] = field(default_factory=set)
    failed: dict[str, tuple[str, bool]] = field(default_factory=dict)
    transaction_uid: str = ""
    error: str = ""
