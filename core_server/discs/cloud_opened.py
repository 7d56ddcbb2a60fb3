"""Has the patient opened an exam's cloud film? The film domain's "print only what the patient
has not already got as cloud film" asks it (``PrintJobs(cloud_film_opened=...)``, wired by the
web adapter: film sits below discs and cannot import it).

"Opened" means someone answered the check question of a link showing the exam rightly (a row of
``disc_cloud_checks`` with ``ok``, audited as ``discs.cloud.opened``): only then are the films
shown. A link merely issued or printed on a disc label is not opened; a link opened and later
revoked or expired still counts, since the patient has seen the films.
"""

from __future__ import annotations

import json

from sqlalchemy import Engine, select

from core_server import db
from core_server.discs.cloud_tables import disc_cloud_checks, disc_cloud_links


def cloud_film_opened(engine: Engine, exam_id: int) -> bool:
    """Whether a cloud-film link showing ``exam_id`` was opened (its check answered rightly)."""
    links, checks = disc_cloud_links.c, disc_cloud_checks.c
    opened = (
        select(links.exam_ids)
        .join(disc_cloud_checks, checks.link_id == links.id)
        .where(checks.ok.is_(True), links.exam_ids.contains(str(exam_id)))
        .distinct()
    )
    with db.read(engine) as conn:
        found = conn.execute(opened).scalars().all()
    # ``contains`` is a text prefilter (exam 1 is in "[12]"): the JSON list decides.
    return any(exam_id in (int(i) for i in json.loads(text)) for text in found)
