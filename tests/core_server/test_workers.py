"""The settings a DICOM worker process is started with (``core_server.workers``) come back
as the main process's own: every option parses, tables and lists included."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from core_server import cli
from core_server.settings import Settings
from core_server.workers import DicomWorkers


def test_a_worker_reads_back_the_main_process_settings(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    given: dict[str, Any] = {
        "data_dir": tmp_path,
        "dicom_workers": 2,
        "ldap_group_roles": {"reporting_doctor": "cn=radiologists,ou=groups,dc=h,dc=cn"},
        "dicom_direct_path": False,
    }
    main = Settings(**given)
    workers = DicomWorkers(main, 1)
    for name, value in workers._environment().items():
        monkeypatch.setenv(name, value)
    args = cli.build_parser().parse_args(["dicom-worker", *workers._options()])
    worker = cli._settings(args)
    assert worker.model_dump() == main.model_dump()
    assert worker.ldap_group_roles == {"reporting_doctor": "cn=radiologists,ou=groups,dc=h,dc=cn"}
    assert worker.dicom_processes == 2
