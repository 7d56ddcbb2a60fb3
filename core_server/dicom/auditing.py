"""What the DICOM side writes into the audit trail (and so, through core_server.atna, to the
hospital's audit repository): queries, transfers out, and refused TLS handshakes.

The cost rule: never an entry per answer or per instance. A C-FIND is one ``dicom.query``
entry per request, and the same query (same calling AE, SOP class and keys) repeated within a
minute is coalesced into the next one (``repeated`` says how many it stands for). A C-MOVE or
C-GET request is one ``archive.sent`` entry per study it sent. A refused handshake is one
``node.authentication_failed`` per address and reason a minute. An audit failure is logged and
never fails the DICOM operation.
"""

from __future__ import annotations

import logging
from collections import Counter
from typing import Any

from pydicom import Dataset
from sqlalchemy import Engine

from core_server import auth, names
from core_server.archive import InstanceFile

log = logging.getLogger(__name__)
QUERY, SENT, NODE_REFUSED = "dicom.query", "archive.sent", "node.authentication_failed"
_VALUE_LIMIT = 64  # characters of one key's value kept (a long UID list is cut)


class DicomAudit:
    def __init__(self, engine: Engine, window: float = 60.0) -> None:
        self.engine = engine
        self.queries = auth.Coalescer(window)
        self.refusals = auth.Coalescer(window)

    def _record(self, **entry: Any) -> None:
        try:
            auth.record_audit(self.engine, **entry)
        except Exception:
            log.exception("audit entry %s not written", entry.get("action"))

    def query(self, calling: str, address: str, sop_class_uid: str, identifier: Dataset) -> None:
        keys = query_keys(identifier)
        level = str(identifier.get("QueryRetrieveLevel", "") or "")
        key = (calling, address, sop_class_uid, level, tuple(sorted(keys.items())))
        repeated = self.queries.admit(key)
        if repeated is None:
            return
        detail: dict[str, Any] = {
            "ae_title": calling,
            "sop_class": sop_class_uid,
            "level": level,
            "keys": keys,
        }
        if repeated:
            detail["repeated"] = repeated
        self._record(
            username=None,
            action=QUERY,
            target=f"modality:{calling}",
            detail=detail,
            address=address,
        )

    def sent(
        self,
        calling: str,
        address: str,
        files: list[InstanceFile],
        destination: str,
        operation: str,
        failed: set[str],
    ) -> None:
        studies: Counter[str] = Counter()
        failures: Counter[str] = Counter()
        for f in files:
            studies[f.study_instance_uid] += 1
            if f.sop_instance_uid in failed:
                failures[f.study_instance_uid] += 1
        for study, count in sorted(studies.items()):
            self._record(
                username=None,
                action=SENT,
                target=f"study:{study}",
                detail={
                    "ae_title": calling,
                    "destination": destination,
                    "operation": operation,
                    "instances": count - failures[study],
                    "failed": failures[study],
                },
                address=address,
            )

    def node_refused(self, address: str, reason: str, where: str) -> None:
        repeated = self.refusals.admit((address, reason, where))
        if repeated is None:
            return
        detail: dict[str, Any] = {"reason": reason, "where": where}
        if repeated:
            detail["repeated"] = repeated
        self._record(
            username=None,
            action=NODE_REFUSED,
            target=f"node:{address}",
            detail=detail,
            address=address,
        )


def query_keys(identifier: Dataset) -> dict[str, str]:
    """The keys a query gave values (what it looked for), by keyword; names shown as 王建国
    (never with ^), a sequence's keys (the worklist's scheduled step) flattened into it."""
    found: dict[str, str] = {}
    for element in identifier:
        keyword = element.keyword or str(element.tag)
        if keyword == "QueryRetrieveLevel" or element.value in (None, "", b""):
            continue
        if element.VR == "SQ":
            for item in element.value:
                found.update(query_keys(item))
            continue
        if element.VR == "PN":
            value = names.display(str(element.value))
        elif isinstance(element.value, bytes):
            continue
        else:
            value = str(element.value)
        found[keyword] = value[:_VALUE_LIMIT]
    return found
