"""Destinations and rules as the admin edits them (REST and page), validated here."""

from __future__ import annotations

from dataclasses import asdict, dataclass, fields, replace
from typing import Any, TypeVar
from urllib.parse import urlparse

from sqlalchemy import Engine, Table, delete, insert, select, update
from sqlalchemy.exc import IntegrityError

from core_server import clock, db
from core_server.modalities import get_modality
from core_server.refusals import Conflict, Invalid, NotFound
from core_server.storage.forwarding.tables import forwarding_destinations as dest_t
from core_server.storage.forwarding.tables import forwarding_rules as rule_t
from core_server.storage.forwarding.tables import forwarding_tasks as task_t

KINDS = ("dicom", "stow")
AUTHS = ("none", "bearer", "basic")


@dataclass(frozen=True)
class Destination:
    name: str
    kind: str
    ae_title: str = ""
    host: str = ""  # empty: the registered modality's host, port and TLS switch
    port: int = 0
    tls: bool = False
    url: str = ""
    auth: str = "none"
    token: str = ""
    username: str = ""
    password: str = ""
    ca_file: str = ""
    commitment: bool = False
    enabled: bool = True
    id: int = 0

    def public(self) -> dict[str, Any]:
        """As the API shows it: secrets only said to be set."""
        shown = asdict(self)
        shown["token"] = bool(self.token)
        shown["password"] = bool(self.password)
        return shown


@dataclass(frozen=True)
class Rule:
    name: str
    destination_id: int
    enabled: bool = True
    on_new: bool = True
    on_changed: bool = True
    modality: str = ""
    source_ae: str = ""
    sop_class_uid: str = ""
    study_description: str = ""
    department: str = ""
    id: int = 0


def _check_destination(d: Destination) -> None:
    if not d.name.strip() or len(d.name) > 64:
        raise Invalid("storage.forwarding.bad_name")
    if d.kind not in KINDS:
        raise Invalid("storage.forwarding.bad_kind", kind=d.kind, kinds=", ".join(KINDS))
    if d.kind == "dicom":
        ae = d.ae_title
        if not ae or len(ae) > 16 or ae != ae.strip() or "\\" in ae or not ae.isascii():
            raise Invalid("storage.forwarding.bad_ae_title", ae_title=ae)
        if d.host and not 0 < d.port < 65536:
            raise Invalid("storage.forwarding.bad_port", port=d.port)
    else:
        if urlparse(d.url).scheme not in ("http", "https") or not urlparse(d.url).netloc:
            raise Invalid("storage.forwarding.bad_url", url=d.url)
        if d.auth not in AUTHS:
            raise Invalid("storage.forwarding.bad_auth", auth=d.auth, auths=", ".join(AUTHS))
        if d.commitment:
            raise Invalid("storage.forwarding.stow_no_commitment")


Saved = TypeVar("Saved", "Destination", "Rule")


def _values(item: Any) -> dict[str, Any]:
    return {f.name: getattr(item, f.name) for f in fields(item) if f.name != "id"}


def destination_from(data: dict[str, Any], base: Destination | None = None) -> Destination:
    """A destination from an API body (on top of ``base`` for an update; a secret sent empty
    or left out keeps the stored one)."""
    known = {f.name for f in fields(Destination)} - {"id"}
    values = {k: v for k, v in data.items() if k in known}
    if base is not None:
        for secret in ("token", "password"):
            if not values.get(secret):
                values.pop(secret, None)
        return replace(base, **values)
    try:
        return Destination(**values)
    except TypeError as exc:
        raise Invalid("storage.forwarding.bad_body", reason=str(exc)) from exc


def rule_from(data: dict[str, Any], base: Rule | None = None) -> Rule:
    known = {f.name for f in fields(Rule)} - {"id"}
    values = {k: v for k, v in data.items() if k in known}
    if base is not None:
        return replace(base, **values)
    try:
        return Rule(**values)
    except TypeError as exc:
        raise Invalid("storage.forwarding.bad_body", reason=str(exc)) from exc


def destinations(engine: Engine) -> list[Destination]:
    with db.read(engine) as conn:
        rows = conn.execute(select(dest_t).order_by(dest_t.c.name)).all()
    return [_destination(r) for r in rows]


def destination(engine: Engine, destination_id: int) -> Destination:
    with db.read(engine) as conn:
        row = conn.execute(select(dest_t).where(dest_t.c.id == destination_id)).first()
    if row is None:
        raise NotFound("storage.forwarding.no_destination", id=destination_id)
    return _destination(row)


def save_destination(engine: Engine, d: Destination) -> Destination:
    _check_destination(d)
    return _saved(engine, dest_t, d)


def remove_destination(engine: Engine, destination_id: int) -> None:
    destination(engine, destination_id)
    with db.write(engine) as conn:
        used = conn.execute(
            select(rule_t.c.id).where(rule_t.c.destination_id == destination_id).limit(1)
        ).first()
        if used is not None:
            raise Conflict("storage.forwarding.destination_in_use", id=destination_id)
        conn.execute(delete(task_t).where(task_t.c.destination_id == destination_id))
        conn.execute(delete(dest_t).where(dest_t.c.id == destination_id))


def address(engine: Engine, d: Destination) -> tuple[str, int, bool]:
    """Host, port and TLS switch of a DICOM destination: its own, or the registered
    modality's of the same AE title when it names no host."""
    if d.host:
        return d.host, d.port, d.tls
    modality = get_modality(engine, d.ae_title)
    if modality is None:
        raise LookupError(f"no host given and no registered modality {d.ae_title}")
    return modality.host, modality.port, modality.tls


def rules(engine: Engine) -> list[Rule]:
    with db.read(engine) as conn:
        rows = conn.execute(select(rule_t).order_by(rule_t.c.name)).all()
    return [_rule(r) for r in rows]


def rule(engine: Engine, rule_id: int) -> Rule:
    with db.read(engine) as conn:
        row = conn.execute(select(rule_t).where(rule_t.c.id == rule_id)).first()
    if row is None:
        raise NotFound("storage.forwarding.no_rule", id=rule_id)
    return _rule(row)


def save_rule(engine: Engine, r: Rule) -> Rule:
    if not r.name.strip() or len(r.name) > 64:
        raise Invalid("storage.forwarding.bad_name")
    destination(engine, r.destination_id)
    return _saved(engine, rule_t, r)


def _saved(engine: Engine, table: Table, item: Saved) -> Saved:
    """Update the row of ``item.id``, or insert a new one; a name taken is a 409."""
    try:
        with db.write(engine) as conn:
            if item.id:
                conn.execute(update(table).where(table.c.id == item.id).values(**_values(item)))
                return item
            new_id = conn.execute(
                insert(table).values(**_values(item), created_at=clock.now()).returning(table.c.id)
            ).scalar_one()
    except IntegrityError as exc:
        raise Conflict("storage.forwarding.name_taken", name=item.name) from exc
    return replace(item, id=int(new_id))


def remove_rule(engine: Engine, rule_id: int) -> None:
    rule(engine, rule_id)
    with db.write(engine) as conn:
        conn.execute(delete(rule_t).where(rule_t.c.id == rule_id))


def _destination(row: Any) -> Destination:
    return Destination(**{f.name: getattr(row, f.name) for f in fields(Destination)})


def _rule(row: Any) -> Rule:
    return Rule(**{f.name: getattr(row, f.name) for f in fields(Rule)})
