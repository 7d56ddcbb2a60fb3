"""The registry of DICOM peers, read on every association so changes apply at once."""

from __future__ import annotations

from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import Engine, delete, insert, select, update

from core_server import db
from core_server.modalities.tables import modalities


class ModalityError(ValueError):
    """A refused change to the registry, said for the administrator."""


@dataclass(frozen=True)
class Modality:
    ae_title: str
    host: str
    port: int
    description: str = ""
    allow_store: bool = True
    allow_query: bool = True
    allow_retrieve: bool = True
    ascii_only: bool = False  # worklist names in pinyin only, for devices without Chinese

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


def _check(modality: Modality) -> None:
    ae = modality.ae_title
    if not ae or len(ae) > 16 or ae != ae.strip() or "\\" in ae or not ae.isascii():
        raise ModalityError("an AE title has 1 to 16 ASCII characters, no backslash")
    if not 0 < modality.port < 65536:
        raise ModalityError("a port is between 1 and 65535")
    if not modality.host:
        raise ModalityError("a host is required")


def _from_row(row: Any) -> Modality:
    return Modality(
        ae_title=row.ae_title,
        host=row.host,
        port=row.port,
        description=row.description,
        allow_store=bool(row.allow_store),
        allow_query=bool(row.allow_query),
        allow_retrieve=bool(row.allow_retrieve),
        ascii_only=bool(row.ascii_only),
    )


def list_modalities(engine: Engine) -> list[Modality]:
    with db.read(engine) as conn:
        rows = conn.execute(select(modalities).order_by(modalities.c.ae_title))
        return [_from_row(r) for r in rows]


def get_modality(engine: Engine, ae_title: str) -> Modality | None:
    with db.read(engine) as conn:
        row = conn.execute(select(modalities).where(modalities.c.ae_title == ae_title)).first()
    return None if row is None else _from_row(row)


def add_modality(engine: Engine, modality: Modality) -> Modality:
    _check(modality)
    now = datetime.now(UTC)
    with db.write(engine) as conn:
        taken = conn.execute(
            select(modalities.c.id).where(modalities.c.ae_title == modality.ae_title)
        ).first()
        if taken:
            raise ModalityError(f"AE title {modality.ae_title!r} is registered already")
        conn.execute(
            insert(modalities).values(**modality.as_dict(), created_at=now, updated_at=now)
        )
    return modality


def update_modality(engine: Engine, ae_title: str, **changes: Any) -> Modality:
    current = get_modality(engine, ae_title)
    if current is None:
        raise ModalityError(f"no modality {ae_title!r}")
    changed = Modality(**{**current.as_dict(), **changes})
    _check(changed)
    with db.write(engine) as conn:
        if (
            changed.ae_title != ae_title
            and conn.execute(
                select(modalities.c.id).where(modalities.c.ae_title == changed.ae_title)
            ).first()
        ):
            raise ModalityError(f"AE title {changed.ae_title!r} is registered already")
        conn.execute(
            update(modalities)
            .where(modalities.c.ae_title == ae_title)
            .values(**changed.as_dict(), updated_at=datetime.now(UTC))
        )
    return changed


def remove_modality(engine: Engine, ae_title: str) -> None:
    with db.write(engine) as conn:
        if not conn.execute(delete(modalities).where(modalities.c.ae_title == ae_title)).rowcount:
            raise ModalityError(f"no modality {ae_title!r}")
