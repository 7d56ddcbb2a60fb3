"""The study list's JSON search (``/api/studies``), used by the study list page.

Each study also carries its report's status (``report_status``: draft, submitted, reviewed,
signed, or null without a report), asked of the reporting domain by accession number.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query, Request

from core_server import archive, auth, reporting
from core_server.web.security import client_address, require

# Who may look for studies: every member of staff, not the device programs.
STUDY_READERS = tuple(role for role in auth.ROLES if role != "device")

router = APIRouter(prefix="/api", tags=["studies"])


@router.get("/studies")
def search_studies(
    request: Request,
    user: Annotated[auth.User, Depends(require(*STUDY_READERS))],
    q: Annotated[
        str,
        Query(
            max_length=64,
            description="Name in Chinese, pinyin initials or spelling, patient ID or accession",
        ),
    ] = "",
    patient_id: Annotated[str, Query(max_length=64)] = "",
    accession_number: Annotated[str, Query(max_length=64)] = "",
    modality: Annotated[str, Query(max_length=16)] = "",
    date_from: Annotated[str, Query(description="YYYYMMDD or YYYY-MM-DD, inclusive")] = "",
    date_to: Annotated[str, Query(description="YYYYMMDD or YYYY-MM-DD, inclusive")] = "",
    limit: Annotated[int, Query(ge=1, le=200)] = 50,
    offset: Annotated[int, Query(ge=0)] = 0,
) -> dict[str, Any]:
    wanted = archive.StudyFilter(
        text=q,
        patient_id=patient_id,
        accession_number=accession_number,
        modality=modality,
        date_from=date_from.replace("-", ""),
        date_to=date_to.replace("-", ""),
        limit=limit,
        offset=offset,
    )
    engine = request.app.state.ctx.engine
    total, studies = archive.search_studies(engine, wanted)
    statuses = reporting.report_statuses(engine, (s["accession_number"] for s in studies))
    for study in studies:
        found = statuses.get(study["accession_number"])
        study["report_status"] = found.value if found else None
    # Who looked for which patient is part of the access record.
    searched = {
        key: value
        for key, value in (
            ("q", q),
            ("patient_id", patient_id),
            ("accession_number", accession_number),
            ("modality", modality),
            ("date_from", date_from),
            ("date_to", date_to),
        )
        if value
    }
    auth.record_audit(
        engine,
        username=user.username,
        action=auth.AuditAction.STUDY_SEARCH,
        detail={**searched, "offset": offset, "found": total},
        address=client_address(request),
    )
    return {"total": total, "offset": offset, "limit": limit, "studies": studies}
