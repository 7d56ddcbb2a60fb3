"""Processes, ports, CPU time and network namespaces: the bench's plumbing.

Every wait has a deadline and every process started here is stopped by its own id.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import socket
import subprocess
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import IO

_CLOCK_TICKS = os.sysconf("SC_CLK_TCK")


def free_port(host: str = "127.0.0.1") -> int:
    """A TCP port nobody listens on right now (the kernel's choice)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((host, 0))
        return int(sock.getsockname()[1])


def cpu_seconds(pid: int) -> float:
    """User + system CPU time of a process (all its threads) from ``/proc/PID/stat``."""
    stat = Path(f"/proc/{pid}/stat").read_text()
    # The command name (field 2) may hold spaces: split after its closing parenthesis.
    fields = stat[stat.rindex(")") + 2 :].split()
    utime, stime = int(fields[11]), int(fields[12])
    return (utime + stime) / _CLOCK_TICKS


def tree_cpu_seconds(pid: int) -> float:
    """:func:`cpu_seconds` of a process and of every living descendant (a core's DICOM worker
    processes); one that has exited is no longer counted."""
    total = 0.0
    pending = [pid]
    while pending:
        current = pending.pop()
        try:
            total += cpu_seconds(current)
            for task in Path(f"/proc/{current}/task").iterdir():
                pending.extend(int(c) for c in (task / "children").read_text().split())
        except (FileNotFoundError, ProcessLookupError):
            continue  # exited meanwhile
    return total


def wait_until(check: Callable[[], bool], timeout: float, what: str, step: float = 0.1) -> None:
    """Poll ``check`` until it is true; raise after ``timeout`` seconds."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if check():
            return
        time.sleep(step)
    raise TimeoutError(f"{what}: not ready after {timeout:.0f} s")


def port_open(host: str, port: int) -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.settimeout(0.5)
        return sock.connect_ex((host, port)) == 0


def bench_env(**extra: str) -> dict[str, str]:
    """The environment for every process the bench starts: Nagle off where it is an option."""
    env = dict(os.environ)
    env["TCP_NODELAY"] = "1"
    env.update(extra)
    return env


class Managed:
    """A long-running subprocess (a server) with its output in a log file."""

    def __init__(self, name: str, argv: list[str], log_path: Path, env: dict[str, str]) -> None:
        self.name = name
        self.argv = argv
        self.log_path = log_path
        self.env = env
        self._process: subprocess.Popen[bytes] | None = None
        self._log: IO[bytes] | None = None

    @property
    def pid(self) -> int:
        if self._process is None:
            raise RuntimeError(f"{self.name} is not running")
        return self._process.pid

    @property
    def alive(self) -> bool:
        return self._process is not None and self._process.poll() is None

    def start(self) -> None:
        self.log_path.parent.mkdir(parents=True, exist_ok=True)
        self._log = self.log_path.open("ab")
        self._process = subprocess.Popen(
            self.argv, stdout=self._log, stderr=subprocess.STDOUT, env=self.env
        )

    def check_alive(self) -> None:
        if not self.alive:
            raise RuntimeError(f"{self.name} exited; see {self.log_path}:\n{self.log_tail()}")

    def log_tail(self, lines: int = 20) -> str:
        try:
            return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-lines:])
        except OSError:
            return ""

    def stop(self, timeout: float = 15.0) -> None:
        """SIGTERM, then SIGKILL after ``timeout`` seconds; idempotent."""
        process, self._process = self._process, None
        if process is not None and process.poll() is None:
            process.send_signal(signal.SIGTERM)
            try:
                process.wait(timeout)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait(5)
        if self._log is not None:
            self._log.close()
            self._log = None


@contextlib.contextmanager
def managed(process: Managed) -> Iterator[Managed]:
    try:
        process.start()
        yield process
    finally:
        process.stop()


# -- network namespace ------------------------------------------------------------------------


def require_tool(name: str) -> str:
    found = shutil.which(name) or shutil.which(name, path="/usr/sbin:/sbin")
    if found is None:
        raise FileNotFoundError(f"{name} is needed (apt-get install -y dcmtk orthanc iproute2)")
    return found


def netns_create(name: str) -> None:
    ip = require_tool("ip")
    subprocess.run([ip, "netns", "add", name], check=True, timeout=30)
    subprocess.run(
        [ip, "netns", "exec", name, ip, "link", "set", "lo", "up"], check=True, timeout=30
    )


def netns_pids(name: str) -> list[int]:
    ip = require_tool("ip")
    done = subprocess.run(
        [ip, "netns", "pids", name], capture_output=True, text=True, timeout=30, check=False
    )
    return [int(p) for p in done.stdout.split() if p.isdigit()]


def netns_delete(name: str) -> None:
    """Stop what the bench left running inside the namespace (by pid), then delete it."""
    for sig in (signal.SIGTERM, signal.SIGKILL):
        pids = netns_pids(name)
        for pid in pids:
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, sig)
        if pids:
            with contextlib.suppress(TimeoutError):
                wait_until(lambda: not netns_pids(name), 10, "namespace processes")
    subprocess.run([require_tool("ip"), "netns", "del", name], check=False, timeout=30)
