"""The configured areas: their rows (admin-edited) and the working :class:`Area` of each,
built once and rebuilt when a row changes (or, for another core process's edit, when a name
is not known yet or :data:`RELOAD_SECONDS` have passed)."""

from __future__ import annotations

import re
import threading
import time
from dataclasses import asdict, fields

from sqlalchemy import Engine, delete, func, insert, select, update

from core_server import clock, db
from core_server.archive.areas import KINDS, ONLINE, Area, AreaSpec, build
from core_server.archive.areas import tables as at
from core_server.archive.storage import StorageArea
from core_server.refusals import Conflict, Invalid, NotFound

RELOAD_SECONDS = 30.0
_NAME = re.compile(r"^[a-z0-9][a-z0-9_-]{0,31}$")
_LABEL = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$")
_COLUMNS = {f.name for f in fields(AreaSpec)}
_EDITABLE = _COLUMNS - {"name", "created_at", "updated_at"}


class Areas:
    """Every area but the online one, by name; :attr:`online` is the archive's own."""

    def __init__(self, engine: Engine, online: StorageArea) -> None:
        self.engine = engine
        self.online = online
        self._lock = threading.Lock()
        self._built: dict[str, Area] = {}
        self._specs: dict[str, AreaSpec] = {}
        self._loaded_at = -1e9

    def specs(self) -> list[AreaSpec]:
        self._fresh()
        return sorted(self._specs.values(), key=lambda s: (s.rank, s.name))

    def spec(self, name: str) -> AreaSpec:
        self._fresh(name)
        try:
            return self._specs[name]
        except KeyError:
            raise NotFound("storage.tiers.area_unknown", name=name) from None

    def get(self, name: str) -> Area:
        """The working area named ``name`` (NotFound when there is none)."""
        self._fresh(name)
        with self._lock:
            if name not in self._specs:
                raise NotFound("storage.tiers.area_unknown", name=name)
            if name not in self._built:
                self._built[name] = build(self._specs[name])
            return self._built[name]

    def rank(self, name: str) -> int:
        try:
            return self.spec(name).rank
        except NotFound:
            return 1 << 30

    def create(self, spec: AreaSpec) -> AreaSpec:
        _valid(spec)
        now = clock.now()
        values = {**asdict(spec), "created_at": now, "updated_at": now}
        with db.write(self.engine) as conn:
            a = at.archive_areas
            if conn.execute(select(a.c.id).where(a.c.name == spec.name)).first():
                raise Conflict("storage.tiers.area_exists", name=spec.name)
            conn.execute(insert(at.archive_areas).values(**values))
        self.reload()
        return self.spec(spec.name)

    def update(self, name: str, changes: dict[str, object]) -> AreaSpec:
        current = self.spec(name)
        unknown = set(changes) - _EDITABLE
        if unknown:
            raise Invalid("storage.tiers.area_field", field=", ".join(sorted(unknown)))
        if changes.get("secret_key") in ("", None):  # kept when not sent again
            changes = {k: v for k, v in changes.items() if k != "secret_key"}
        merged = AreaSpec(**{**asdict(current), **changes})
        _valid(merged)
        if merged.kind != current.kind and self._copies(name):
            raise Conflict("storage.tiers.area_in_use", name=name)
        with db.write(self.engine) as conn:
            conn.execute(
                update(at.archive_areas)
                .where(at.archive_areas.c.name == name)
                .values(**changes, updated_at=clock.now())
            )
        self.reload()
        return self.spec(name)

    def delete(self, name: str) -> None:
        """Refused while the area holds copies (they would be lost from the index)."""
        self.spec(name)
        if self._copies(name):
            raise Conflict("storage.tiers.area_in_use", name=name)
        with db.write(self.engine) as conn:
            conn.execute(delete(at.archive_areas).where(at.archive_areas.c.name == name))
        self.reload()

    def _copies(self, name: str) -> int:
        with db.read(self.engine) as conn:
            return int(
                conn.execute(
                    select(func.count())
                    .select_from(at.archive_copies)
                    .where(at.archive_copies.c.area == name)
                ).scalar_one()
            )

    def reload(self) -> None:
        with db.read(self.engine) as conn:
            rows = conn.execute(select(at.archive_areas)).mappings().all()
        specs = {r["name"]: AreaSpec(**{k: r[k] for k in _COLUMNS}) for r in rows}
        with self._lock:
            changed = {n for n, s in specs.items() if self._specs.get(n) != s}
            for name in set(self._built) - set(specs) | changed:
                self._built.pop(name, None)
            self._specs = specs
            self._loaded_at = time.monotonic()

    def _fresh(self, name: str | None = None) -> None:
        stale = time.monotonic() - self._loaded_at > RELOAD_SECONDS
        if stale or (name is not None and name not in self._specs):
            self.reload()


def _valid(spec: AreaSpec) -> None:
    if not _NAME.match(spec.name) or spec.name == ONLINE:
        raise Invalid("storage.tiers.area_name", name=spec.name)
    if spec.kind not in KINDS:
        raise Invalid("storage.tiers.area_kind", kind=spec.kind)
    if not spec.location.strip():
        raise Invalid("storage.tiers.area_location")
    if spec.kind == "offline" and not _LABEL.match(spec.label or "SET-0001"):
        raise Invalid("storage.tiers.area_label", label=spec.label)
