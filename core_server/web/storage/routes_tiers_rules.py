"""REST of the lifecycle rules (docs/storage-rules.md), admin only: the rules and their dry
run, the runner's schedule and limits, "run now", the tasks (counts by state, dead ones with
their last error, re-queue) and the prefetch of priors on demand."""

from __future__ import annotations

from datetime import date, timedelta
from typing import Annotated, Any

from fastapi import APIRouter, Body, Depends, FastAPI, Request, Response

from core_server import auth, clock
from core_server.refusals import Conflict, Invalid
from core_server.storage.tiers import rules, runner_tasks, schedule
from core_server.storage.tiers.runner import RulesRunner
from core_server.web.security import require

router = APIRouter(prefix="/api/storage/rules", tags=["storage"])
Admin = Annotated[auth.User, Depends(require("admin"))]
Json = Annotated[dict[str, Any], Body()]
TASK_STATES = ("pending", "running", "done", "dead")


def of(request: Request) -> RulesRunner:
    lifecycle = request.app.state.ctx.lifecycle
    service = lifecycle.rules if lifecycle is not None else None
    if service is None:
        raise Conflict("storage.rules.not_running")
    return service  # type: ignore[no-any-return]


@router.get("")
def list_rules(request: Request, user: Admin) -> list[dict[str, Any]]:
    return [r.as_json() for r in rules.listing(of(request).engine)]


@router.post("", status_code=201)
def create_rule(request: Request, user: Admin, body: Json) -> dict[str, Any]:
    service = of(request)
    made = rules.create(service.engine, rules.rule_from(body, service.registry), user.username)
    service.rules_changed()
    return made.as_json()


@router.post("/dry-run")
def dry_run_body(request: Request, user: Admin, body: Json, first: int = 20) -> dict[str, Any]:
    """What an unsaved rule would touch now."""
    service = of(request)
    rule = rules.rule_from(body, service.registry)
    return service.dry_run(rule, max(1, min(first, 200))).as_json()


@router.get("/settings")
def get_settings(request: Request, user: Admin) -> dict[str, Any]:
    return of(request).status()


@router.put("/settings")
def put_settings(request: Request, user: Admin, body: Json) -> dict[str, Any]:
    service = of(request)
    schedule.save(service.engine, body)
    return service.status()


@router.post("/run-now")
def run_now(request: Request, user: Admin) -> dict[str, Any]:
    made = of(request).run_now()
    return {"made": sum(made.values()), "by_rule": {str(k): v for k, v in made.items()}}


@router.get("/tasks")
def tasks(request: Request, user: Admin, state: str = "dead", limit: int = 100) -> dict[str, Any]:
    if state not in TASK_STATES:
        raise Invalid("storage.rules.field", field="state")
    engine = of(request).engine
    return {
        "counts": runner_tasks.counts(engine),
        "pending_bytes": runner_tasks.pending_bytes(engine),
        "tasks": runner_tasks.listing(engine, state, max(1, min(limit, 1000))),
    }


@router.post("/tasks/requeue-dead")
def requeue_dead(request: Request, user: Admin) -> dict[str, int]:
    service = of(request)
    count = runner_tasks.requeue_dead(service.engine)
    service.wake()
    return {"requeued": count}


@router.post("/tasks/{task_id}/requeue", status_code=204)
def requeue(request: Request, user: Admin, task_id: int) -> Response:
    runner_tasks.requeue(of(request).engine, task_id)
    return Response(status_code=204)


@router.post("/prefetch")
def prefetch(request: Request, user: Admin, day: date | None = None) -> dict[str, Any]:
    """Recall the priors of the patients booked on ``day`` (default tomorrow) now."""
    return of(request).prefetch(day or clock.today() + timedelta(days=1)).as_json()


@router.get("/{rule_id}")
def get_rule(request: Request, user: Admin, rule_id: int) -> dict[str, Any]:
    return rules.get(of(request).engine, rule_id).as_json()


@router.put("/{rule_id}")
def put_rule(request: Request, user: Admin, rule_id: int, body: Json) -> dict[str, Any]:
    service = of(request)
    changed = rules.replace(service.engine, rule_id, rules.rule_from(body, service.registry))
    service.rules_changed()
    return changed.as_json()


@router.delete("/{rule_id}", status_code=204)
def delete_rule(request: Request, user: Admin, rule_id: int) -> Response:
    service = of(request)
    rules.remove(service.engine, rule_id)
    service.rules_changed()
    return Response(status_code=204)


@router.post("/{rule_id}/dry-run")
def dry_run(request: Request, user: Admin, rule_id: int, first: int = 20) -> dict[str, Any]:
    service = of(request)
    return service.dry_run(rules.get(service.engine, rule_id), max(1, min(first, 200))).as_json()


def install(app: FastAPI) -> None:
    from core_server.web.storage import pages_tiers

    app.include_router(router)
    pages_tiers.install(app)
