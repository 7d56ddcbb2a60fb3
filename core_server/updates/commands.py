"""``core-server updates ...``: the signing key and the published versions (docs/updates.md).

core-server updates init-key [--force]      make the signing key (boxes trust its public half)
core-server updates export-key FILE         its public keyring, for IMAGE_UPDATE_KEY at build
core-server updates publish ROLE FOLDER     sign and store the versions in an update folder
core-server updates list
core-server updates remove ROLE VERSION
"""

from __future__ import annotations

import argparse
import shutil
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

from core_server import clock
from core_server.refusals import Refusal
from core_server.updates import init_key, key_of, store_of

Leaf = Callable[..., argparse.ArgumentParser]


def add(commands: Any, leaf: Leaf) -> None:
    """The ``updates`` group on the CLI's subcommands (``leaf`` adds the settings options)."""
    group = commands.add_parser("updates", help="signed image updates the boxes fetch")
    actions = group.add_subparsers(dest="action", required=True)
    init = leaf(actions, "init-key", "make the update signing key (in the TLS key's folder)")
    init.add_argument(
        "--force", action="store_true", help="replace it (boxes must get the new one)"
    )
    export = leaf(actions, "export-key", "write the public keyring (binary OpenPGP) to FILE")
    export.add_argument("file", type=Path)
    publish = leaf(actions, "publish", "sign and store an update folder's versions for ROLE")
    publish.add_argument("role")
    publish.add_argument("folder", type=Path)
    leaf(actions, "list", "the published versions and each role's signature")
    remove = leaf(actions, "remove", "stop offering a version (its files are deleted)")
    remove.add_argument("role")
    remove.add_argument("version")


def run(args: argparse.Namespace, settings: Any) -> int:
    try:
        _run(args, settings)
    except Refusal as refused:
        print(f"error: {refused}", file=sys.stderr)
        return 2
    return 0


def _run(args: argparse.Namespace, settings: Any) -> None:
    store = store_of(settings)
    if args.action == "init-key":
        fingerprint = init_key(key_of(settings), settings.hospital_name, force=args.force)
        print(f"update signing key {fingerprint} in {store.key.secret.parent}")
    elif args.action == "export-key":
        if not store.key.public.is_file():
            raise Refusal("updates.no_key", 409)
        shutil.copyfile(store.key.public, args.file)
        print(f"public keyring {args.file} ({store.key.fingerprint()})")
    elif args.action == "publish":
        versions = store.publish(args.role, args.folder)
        print(f"published {args.role} {', '.join(versions)}; SHA256SUMS signed")
    elif args.action == "remove":
        store.remove(args.role, args.version)
        print(f"removed {args.role} {args.version}; SHA256SUMS signed")
    else:
        for role in store.roles():
            print(f"{role.role}\tsignature {role.signature}")
            for version in role.versions:
                when = clock.shown(version.published_at, "%Y-%m-%d %H:%M")
                print(f"  {version.version}\t{version.size} bytes\t{when}")
