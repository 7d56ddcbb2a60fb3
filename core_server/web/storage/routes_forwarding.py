"""REST of the storage lifecycle's forwarding part (docs/storage-forwarding.md), admin only:
destinations (secrets never shown) with their connection test, rules with "apply to the
studies already stored"; the queue and its tasks are in ``routes_forwarding_queue``.

The configuration is read and written through :mod:`core_server.storage.forwarding.config`
on the core's engine, so it can be edited even when the forwarding service is not running;
what needs the running service (a test, applying a rule) answers 503 without it."""

from __future__ import annotations

from dataclasses import fields
from typing import Annotated, Any, get_type_hints

from fastapi import APIRouter, Depends, FastAPI, Request, Response
from sqlalchemy import Engine, String, Table

from core_server import auth
from core_server.refusals import Invalid, Refusal
from core_server.storage.forwarding import config
from core_server.storage.forwarding.service import Forwarding
from core_server.storage.forwarding.tables import forwarding_destinations, forwarding_rules
from core_server.web.security import require

router = APIRouter(prefix="/api/storage/forwarding", tags=["storage"])
Admin = Annotated[auth.User, Depends(require("admin"))]
SECRETS = ("token", "password")


async def json_object(request: Request) -> dict[str, Any]:
    """The body as a JSON object, or a 422 refusal in the caller's language (not FastAPI's
    own validation list)."""
    try:
        body = await request.json()
    except ValueError:
        raise Invalid("storage.forwarding.bad_body", reason="JSON") from None
    if not isinstance(body, dict):
        raise Invalid("storage.forwarding.bad_body", reason="JSON object")
    return body


Body = Annotated[dict[str, Any], Depends(json_object)]


def checked(body: dict[str, Any], kind: type, table: Table) -> dict[str, Any]:
    """The fields of ``kind`` from ``body``, each of its declared type and within its
    column's length (a wrong type would be a 500 deeper down, a long text one on
    PostgreSQL). A secret sent back as the listing shows it (true/false) means "unchanged"."""
    hints = get_type_hints(kind)
    known = {f.name for f in fields(kind)} - {"id"}
    values: dict[str, Any] = {}
    for name, value in body.items():
        if name in SECRETS and isinstance(value, bool):
            continue
        if name in ("id", "created_at"):
            continue
        if name not in known:
            raise Invalid("storage.forwarding.bad_field", field=name)
        if type(value) is not hints[name]:  # exactly: true is no port, 1 no switch
            raise Invalid("storage.forwarding.bad_field", field=name)
        column_type = table.c[name].type
        limit = column_type.length if isinstance(column_type, String) else None
        if isinstance(value, str) and limit and len(value) > limit:
            raise Invalid("storage.forwarding.too_long", field=name, limit=limit)
        if isinstance(value, int) and not isinstance(value, bool) and abs(value) > 2**31 - 1:
            raise Invalid("storage.forwarding.bad_field", field=name)
        values[name] = value
    return values


def engine_of(request: Request) -> Engine:
    found: Engine = request.app.state.ctx.engine
    return found


def running(request: Request) -> Forwarding | None:
    lifecycle = request.app.state.ctx.lifecycle
    service: Forwarding | None = lifecycle.forwarding if lifecycle is not None else None
    return service


def service_of(request: Request) -> Forwarding:
    """The running forwarding service (``lifecycle.forwarding``), or a 503."""
    service = running(request)
    if service is None:
        raise Refusal("storage.forwarding.not_running", 503)
    return service


def woken(request: Request, *, configured: bool = False) -> None:
    """Nudge the workers (a re-queued task, a destination or rule changed) when they run;
    after a change of the configuration the rules' matcher forgets its cached rules."""
    service = running(request)
    if service is None:
        return
    if configured:
        service.matcher.forget()
    service.wake()


@router.get("/destinations")
def list_destinations(request: Request, _: Admin) -> list[dict[str, Any]]:
    return [d.public() for d in config.destinations(engine_of(request))]


@router.post("/destinations", status_code=201)
def create_destination(request: Request, _: Admin, body: Body) -> dict[str, Any]:
    values = checked(body, config.Destination, forwarding_destinations)
    made = config.save_destination(engine_of(request), config.destination_from(values))
    woken(request, configured=True)
    return made.public()


@router.get("/destinations/{destination_id}")
def get_destination(request: Request, _: Admin, destination_id: int) -> dict[str, Any]:
    return config.destination(engine_of(request), destination_id).public()


@router.put("/destinations/{destination_id}")
def update_destination(
    request: Request, _: Admin, destination_id: int, body: Body
) -> dict[str, Any]:
    engine = engine_of(request)
    values = checked(body, config.Destination, forwarding_destinations)
    base = config.destination(engine, destination_id)
    changed = config.save_destination(engine, config.destination_from(values, base))
    woken(request, configured=True)
    return changed.public()


@router.delete("/destinations/{destination_id}", status_code=204)
def delete_destination(request: Request, _: Admin, destination_id: int) -> Response:
    config.remove_destination(engine_of(request), destination_id)
    woken(request, configured=True)
    return Response(status_code=204)


@router.post("/destinations/{destination_id}/test")
def test_destination(request: Request, _: Admin, destination_id: int) -> dict[str, Any]:
    """Does the destination answer (C-ECHO, or the STOW-RS endpoint's HTTP check)?"""
    service = service_of(request)
    config.destination(engine_of(request), destination_id)  # an unknown id is a 404
    error = service.test(destination_id)
    return {"id": destination_id, "ok": error is None, "error": error}


@router.get("/rules")
def list_rules(request: Request, _: Admin) -> list[dict[str, Any]]:
    return [_rule(r) for r in config.rules(engine_of(request))]


@router.post("/rules", status_code=201)
def create_rule(request: Request, _: Admin, body: Body) -> dict[str, Any]:
    values = checked(body, config.Rule, forwarding_rules)
    made = config.save_rule(engine_of(request), config.rule_from(values))
    woken(request, configured=True)
    return _rule(made)


@router.get("/rules/{rule_id}")
def get_rule(request: Request, _: Admin, rule_id: int) -> dict[str, Any]:
    return _rule(config.rule(engine_of(request), rule_id))


@router.put("/rules/{rule_id}")
def update_rule(request: Request, _: Admin, rule_id: int, body: Body) -> dict[str, Any]:
    engine = engine_of(request)
    values = checked(body, config.Rule, forwarding_rules)
    changed = config.save_rule(engine, config.rule_from(values, config.rule(engine, rule_id)))
    woken(request, configured=True)
    return _rule(changed)


@router.delete("/rules/{rule_id}", status_code=204)
def delete_rule(request: Request, _: Admin, rule_id: int) -> Response:
    config.remove_rule(engine_of(request), rule_id)
    woken(request, configured=True)
    return Response(status_code=204)


@router.post("/rules/{rule_id}/apply")
def apply_rule(request: Request, _: Admin, rule_id: int) -> dict[str, Any]:
    """Queue the studies already stored that the rule matches; how many objects."""
    service = service_of(request)
    config.rule(engine_of(request), rule_id)  # an unknown id is a 404
    queued = service.apply_rule(rule_id)
    return {"id": rule_id, "queued": queued}


def _rule(rule: config.Rule) -> dict[str, Any]:
    return {f.name: getattr(rule, f.name) for f in fields(rule)}


def install(app: FastAPI) -> None:
    """Include this part's routers and its admin page."""
    from core_server.web.storage import pages_forwarding, routes_forwarding_queue

    app.include_router(router)
    routes_forwarding_queue.install(app)
    pages_forwarding.install(app)
