"""The "retrieving" page (``/storage/retrieve?study=UID[,UID...]``): the study list, and the
viewer's ``/viewer?StudyInstanceUIDs=`` for whoever opens it, send a study that is not wholly
online here; the page asks for its recall, shows "retrieving n/N" from the ``archive.recall``
events of ``/api/ws``, then goes on to the viewer (docs/storage-tiers.md, "Recall and the UI")."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, FastAPI, Query, Request
from fastapi.responses import Response

from core_server import auth
from core_server.web.security import require_page
from core_server.web.templating import render

router = APIRouter(include_in_schema=False)
# Who opens images, as routes_tiers.READERS: may see and ask for a recall.
ReaderPage = Annotated[auth.User, Depends(require_page(*auth.STAFF_ROLES))]


@router.get("/storage/retrieve")
def retrieve_page(
    request: Request, user: ReaderPage, study: Annotated[str, Query(max_length=1400)] = ""
) -> Response:
    """``study``: one Study Instance UID or several, comma-separated (a report's priors)."""
    studies = [u for u in study.split(",") if u][:20]
    return render(
        request,
        "storage/tiers_retrieve.html",
        {"studies": ",".join(studies)},
        i18n_prefixes=("storage.tiers.retrieve.",),
    )


def install(app: FastAPI) -> None:
    app.include_router(router)
