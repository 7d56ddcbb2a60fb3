"""The registry of DICOM peers, read on every association so changes apply at once."""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any

from sqlalchemy import Engine, delete, insert, select, update

from core_server import clock, db
from core_server.modalities.tables import modalities
from core_server.refusals import Refusal


class ModalityError(Refusal):
    """A refused change to the registry, said for the administrator (texts in the catalogue,
    ``modalities.*``): 409 for a conflict or a bad value, 404 for an unknown AE title."""

    status = 409


class UnknownModality(ModalityError):
    status = 404

    def __init__(self, ae_title: str) -> None:
        super().__init__("modalities.unknown", ae_title=ae_title)


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
    # May replace a stored object by a different one under its SOP Instance UID (a modality
    # re-sending a corrected image); off, such a C-STORE is refused (docs: DICOM conformance).
    allow_overwrite: bool = False
    # Associations we open to it (C-MOVE sub-operations, storage commitment reports) use DICOM
    # TLS, its certificate checked against ``tls_ca`` and ours offered (docs/tls.md).
    tls: bool = False

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


def _check(modality: Modality) -> None:
    ae = modality.ae_title
    if not ae or len(ae) > 16 or ae != ae.strip() or "\\" in ae or not ae.isascii():
        raise ModalityError("modalities.bad_ae_title", ae_title=ae)
    if not 0 < modality.port < 65536:
        raise ModalityError("modalities.bad_port", port=modality.port)
    if not modality.host:
        raise ModalityError("modalities.host_required")


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
        allow_overwrite=bool(row.allow_overwrite),
        tls=bool(row.tls),
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
    now = clock.now()
    with db.write(engine) as conn:
        taken = conn.execute(
            select(modalities.c.id).where(modalities.c.ae_title == modality.ae_title)
        ).first()
        if taken:
            raise ModalityError("modalities.taken", ae_title=modality.ae_title)
        conn.execute(
            insert(modalities).values(**modality.as_dict(), created_at=now, updated_at=now)
        )
    return modality


def update_modality(engine: Engine, ae_title: str, /, **changes: Any) -> Modality:
    """Change the modality now called ``ae_title``; ``changes`` may rename it (``ae_title=``)."""
    current = get_modality(engine, ae_title)
    if current is None:
        raise UnknownModality(ae_title)
    changed = Modality(**{**current.as_dict(), **changes})
    _check(changed)
    with db.write(engine) as conn:
        if (
            changed.ae_title != ae_title
            and conn.execute(
                select(modalities.c.id).where(modalities.c.ae_title == changed.ae_title)
            ).first()
        ):
            raise ModalityError("modalities.taken", ae_title=changed.ae_title)
        conn.execute(
            update(modalities)
            .where(modalities.c.ae_title == ae_title)
            .values(**changed.as_dict(), updated_at=clock.now())
        )
    return changed


def remove_modality(engine: Engine, ae_title: str) -> None:
    with db.write(engine) as conn:
        if not conn.execute(delete(modalities).where(modalities.c.ae_title == ae_title)).rowcount:
            raise UnknownModality(ae_title)
