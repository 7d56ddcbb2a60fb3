"""REST of the storage lifecycle's compression part (admin): the rules
(``/api/storage/compression/rules``), a dry run of them, the jobs' counts and the syntaxes a
rule may name; the page is in :mod:`pages_compression`."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Body, Depends, FastAPI, Request, Response
from pydicom.uid import UID

from core_server import auth
from core_server.storage.compression import codecs, rules
from core_server.storage.compression.service import Compression
from core_server.web.security import require
from core_server.web.storage import pages_compression

router = APIRouter(prefix="/api/storage/compression", tags=["storage"])
Admin = Annotated[auth.User, Depends(require("admin"))]
Values = Annotated[dict[str, Any], Body()]


def service(request: Request) -> Compression:
    return request.app.state.ctx.lifecycle.compression  # type: ignore[no-any-return]


def _audit(request: Request, user: auth.User, action: str, rule_id: int, detail: Any) -> None:
    auth.record_audit(
        request.app.state.ctx.engine,
        username=user.username,
        action=f"storage.compression.{action}",
        target=f"compression_rule:{rule_id}",
        detail=detail,
        address=request.client.host if request.client else "",
    )


@router.get("/rules", summary="Compression rules, in the order they decide")
def list_rules(request: Request, _user: Admin) -> list[dict[str, Any]]:
    return [r.json() for r in rules.all_rules(service(request).engine)]


@router.post("/rules", status_code=201, summary="Add a compression rule")
def create_rule(request: Request, user: Admin, values: Values) -> dict[str, Any]:
    rule = rules.create(service(request).engine, values, user.username)
    _audit(request, user, "rule_created", rule.id, rule.json())
    service(request).worker.wake()
    return rule.json()


@router.put("/rules/{rule_id}", summary="Change a compression rule")
def change_rule(request: Request, rule_id: int, user: Admin, values: Values) -> dict[str, Any]:
    rule = rules.change(service(request).engine, rule_id, values, user.username)
    _audit(request, user, "rule_changed", rule.id, rule.json())
    return rule.json()


@router.delete("/rules/{rule_id}", status_code=204, summary="Remove a compression rule")
def remove_rule(request: Request, rule_id: int, user: Admin) -> Response:
    rules.remove(service(request).engine, rule_id)
    _audit(request, user, "rule_removed", rule_id, {})
    return Response(status_code=204)


@router.post("/dry-run", summary="How many objects the rules would compress now")
def dry_run(request: Request, _user: Admin) -> dict[str, int]:
    compression = service(request)
    return {
        trigger: compression.scan(trigger, 1_000_000, dry_run=True) for trigger in rules.TRIGGERS
    }


@router.get("/jobs", summary="Compression jobs by status")
def job_counts(request: Request, _user: Admin) -> dict[str, int]:
    return service(request).counts()


@router.get("/syntaxes", summary="The transfer syntaxes a rule may compress to")
def syntaxes(_user: Admin) -> list[dict[str, Any]]:
    return [
        {"uid": uid, "name": UID(uid).name, "lossy": uid in codecs.LOSSY} for uid in rules.TARGETS
    ]


def install(app: FastAPI) -> None:
    """Include this part's routers."""
    app.include_router(router)
    pages_compression.install(app)
