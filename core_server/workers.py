"""Extra processes serving the DICOM port beside the main one (``--dicom-workers``).

Python runs one thread at a time per process, so one process stores at most what one core can
parse, index and commit. With SO_REUSEPORT several processes listen on the same DICOM port and
the kernel spreads new associations over them; they share the database and the storage area,
so no state lives only in one of them. The main process migrates the database and recovers the
storage area before it starts them, supervises them (a dead worker is started again) and stops
them; a worker dies with the main process (PR_SET_PDEATHSIG, asked by util-linux's setpriv
before the worker's Python starts), so none is ever left holding the port.
"""

from __future__ import annotations

import ctypes
import json
import logging
import os
import shutil
import signal
import subprocess
import sys
import threading
from typing import Any

from core_server import db, tls
from core_server.archive import Archive
from core_server.dicom import DicomServer
from core_server.dicomweb.metadata_warm import MetadataWarmer
from core_server.ris import Ris
from core_server.settings import Settings

log = logging.getLogger(__name__)
_PR_SET_PDEATHSIG = 1
_NOT_PASSED = {"admin_password", "config", "dicom_workers"}


def dicom_server(
    settings: Settings, archive: Archive, engine: Any, ris: Ris | None = None
) -> DicomServer:
    return DicomServer(
        archive,
        engine,
        ae_title=settings.ae_title,
        host=settings.host,
        port=settings.dicom_port,
        strict=settings.strict_ae,
        max_pdu=settings.dicom_max_pdu,
        timeout=settings.dicom_network_timeout,
        artim=settings.dicom_artim_timeout,
        direct_path=settings.dicom_direct_path,
        share_port=settings.dicom_processes > 1,
        ris=ris,
        film_dpi=settings.film_dpi,
        tls=tls.listener_context(settings, "dicom"),
        tls_port=settings.dicom_tls_port,
        cleartext=settings.cleartext,
        tls_files=tls.files_of(settings),  # peers marked tls, reached by us
    )


class DicomWorkers:
    def __init__(self, settings: Settings, count: int) -> None:
        self.settings = settings
        self.count = count
        self.processes: list[subprocess.Popen[bytes]] = []
        self._stopping = threading.Event()
        self._supervisor = threading.Thread(target=self._supervise, daemon=True)

    def start(self) -> None:
        self.processes = [self._spawn() for _ in range(self.count)]
        self._supervisor.start()

    def alive(self) -> bool:
        return all(process.poll() is None for process in self.processes)

    def stop(self) -> None:
        self._stopping.set()
        for process in self.processes:
            process.terminate()
        for process in self.processes:
            try:
                process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                process.kill()

    def _spawn(self) -> subprocess.Popen[bytes]:
        command = [sys.executable, "-m", "core_server", "dicom-worker", *self._options()]
        # The worker asks for the parent-death signal itself, but only once its imports are
        # done (seconds on a busy machine): util-linux's setpriv asks before Python starts, so
        # a main process killed meanwhile takes its worker along.
        setpriv = shutil.which("setpriv")
        if setpriv is not None:
            command = [setpriv, "--pdeathsig", "TERM", "--", *command]
        return subprocess.Popen(command, stdin=subprocess.DEVNULL, env=self._environment())

    def _options(self) -> list[str]:
        """The main process's settings as options; tables and lists go in the environment
        (:meth:`_environment`), a command-line option being read as a plain string."""
        options = []
        for name, value in self.settings.model_dump().items():
            if name in _NOT_PASSED or value is None or isinstance(value, dict | list):
                continue
            flag = "--" + name.replace("_", "-")
            if isinstance(value, bool):
                options.append(flag if value else "--no-" + flag[2:])
            else:
                options.append(f"{flag}={value}")
        options.append(f"--dicom-workers={self.settings.dicom_processes}")
        return options

    def _environment(self) -> dict[str, str]:
        """The settings that are tables or lists, as JSON (how pydantic-settings reads them
        from the environment); they were a string option before and the worker refused to
        start, over and over."""
        env = dict(os.environ)
        for name, value in self.settings.model_dump().items():
            if name not in _NOT_PASSED and isinstance(value, dict | list):
                env[f"CORE_{name.upper()}"] = json.dumps(value)
        return env

    def _supervise(self) -> None:
        while not self._stopping.wait(1.0):
            for index, process in enumerate(self.processes):
                if process.poll() is not None and not self._stopping.is_set():
                    log.error(
                        "DICOM worker %s exited (%s); starting it again",
                        process.pid,
                        process.returncode,
                    )
                    self.processes[index] = self._spawn()


def run_worker(settings: Settings) -> None:
    """The body of ``core-server dicom-worker``: serve DICOM until told to stop."""
    libc = ctypes.CDLL(None, use_errno=True)
    libc.prctl(_PR_SET_PDEATHSIG, signal.SIGTERM)
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    signal.signal(signal.SIGINT, lambda *_: stop.set())
    if os.getppid() == 1:
        return  # the main process is already gone
    engine = db.make_engine(settings.effective_database_url)
    archive = Archive(engine, settings.storage_dir)
    # A worker matches the images it stores and serves MWL/MPPS too; its status events stay in
    # this process (the HL7 sender subscribes in the main one: see docs/ris.md).
    ris = Ris(engine, archive.bus, archive, files_dir=settings.data_dir / "ris")
    ris.start()
    server = dicom_server(settings, archive, engine, ris)
    warmer = MetadataWarmer(engine, archive)  # for the series this process stores
    warmer.start()
    server.start()
    log.info("DICOM worker %s serving port %s", os.getpid(), server.port)
    stop.wait()
    server.stop()
    warmer.stop()
    engine.dispose()
