"""Published image updates (issue 17, docs/updates.md): the store the core serves at
``/updates/<role>/`` and the key that signs each role's ``SHA256SUMS``.

The store is files only (no table): ``<data_dir>/updates/<role>/``. The signing key sits in
the folder of the TLS key (``core-server tls init``'s, default ``<data_dir>/tls``).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from core_server.updates.signing import SigningKey, init_key, sign, verify
from core_server.updates.store import Role, UpdateStore, Version

__all__ = ["Role", "SigningKey", "UpdateStore", "Version", "init_key", "sign", "store_of", "verify"]


def key_of(settings: Any) -> SigningKey:
    return SigningKey.beside(Path(settings.tls_key).parent)


def store_of(settings: Any) -> UpdateStore:
    """The store the settings name (built per use: it holds nothing but two paths)."""
    return UpdateStore(Path(settings.data_dir) / "updates", key_of(settings))
