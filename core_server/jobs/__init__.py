"""Durable jobs: background work kept in the database so that a restart loses none (outbound
HL7 messages, report objects to archive; forwarding, tier migration and disc jobs next).

One set of rules (claim with a lease, back-off, dead letter, re-queue, releasing the claims of
a process that died; ``FOR UPDATE SKIP LOCKED`` on PostgreSQL) over each domain's *own* job
table, rather than one shared jobs table: a job row is also the domain's record of the work
(the HL7 message with the ACK that answered it, the archived object with the UIDs fixed when
the report was signed), listed and filtered on the domain's own columns by its admin pages,
and one domain never reads another's tables. A table takes part by having the columns of
:func:`job_columns` (``status``, ``attempts``, ``next_attempt_at``, ``claimed_by``,
``claimed_until``, ``last_error``); :class:`Jobs` is bound to it. Ordering rules stay with the
domain (HL7: one destination's messages in the order queued) as ``where`` conditions.

A process that dies leaves its claims behind: :mod:`.takeover` (a cluster-once ticker) gives
the claims of every process the database knows is dead (``cluster.nodes``) back at once, in
every claimed table (:mod:`.claims`), instead of waiting out their leases.
"""

from core_server.jobs.claims import Claims, registered
from core_server.jobs.owners import is_gone, this_process
from core_server.jobs.queue import DEAD, LOST, PENDING, Claimed, Jobs, Retry, job_columns

__all__ = [
    "DEAD",
    "LOST",
    "PENDING",
    "Claimed",
    "Claims",
    "Jobs",
    "Retry",
    "is_gone",
    "job_columns",
    "registered",
    "this_process",
]
