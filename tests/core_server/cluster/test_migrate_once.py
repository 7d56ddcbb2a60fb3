"""Two nodes starting together on an empty database: one upgrades the schema, the other waits
for its lock and finds nothing left to do; both start."""

from __future__ import annotations

import subprocess
import sys
import textwrap
import time
from pathlib import Path

from sqlalchemy import text

from core_server import db
from tests.postgres import Cluster

NODE = textwrap.dedent(
    """
    import logging, sys, time
    from pathlib import Path
    from core_server import db
    logging.basicConfig(level=logging.INFO, stream=sys.stdout, format="%(name)s %(message)s")
    engine = db.make_engine(sys.argv[1])
    Path(sys.argv[3]).touch()
    while not Path(sys.argv[2]).exists():  # all nodes start their upgrade together
        time.sleep(0.01)
    db.migrate(engine)
    """
)


def test_nodes_starting_together_migrate_once(postgres: Cluster, tmp_path: Path) -> None:
    url = postgres.new_database()
    go = tmp_path / "go"
    nodes = [
        subprocess.Popen(
            [sys.executable, "-c", NODE, url, str(go), str(tmp_path / f"ready{n}")],
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
        )
        for n in range(2)
    ]
    deadline = time.monotonic() + 60
    while len(list(tmp_path.glob("ready*"))) < 2 and time.monotonic() < deadline:
        time.sleep(0.05)
    go.touch()
    outputs = [node.communicate(timeout=120)[0] for node in nodes]
    assert [node.returncode for node in nodes] == [0, 0], outputs
    upgraded = sorted(out.count("Running upgrade") for out in outputs)
    assert upgraded[0] == 0 and upgraded[1] > 10, outputs  # one node ran every revision
    engine = db.make_engine(url)
    with engine.connect() as conn:
        heads = conn.execute(text("SELECT version_num FROM alembic_version")).scalars().all()
    engine.dispose()
    assert "0165_cluster_nodes" in heads  # the cluster branch's head
