"""The core's unit forbids ``@privileged @resources`` system calls (EPERM) and W+X memory
(systemd/core-server.service); the web's removal signs with gpg inside it. Here gpg makes a
key, signs and gpgv checks in a process under the same rules: a seccomp filter built with
libseccomp from systemd's own lists of those groups, and Linux's PR_SET_MDWE (as
tests/systemd/test_write_execute.py does)."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from tests.core_server.updates.helpers import update_folder

DENIED = ("@privileged", "@resources")  # systemd/core-server.service's SystemCallFilter=~...

CHILD = textwrap.dedent(
    """
    import ctypes, json, sys
    from pathlib import Path
    names, folder = json.loads(sys.argv[1]), Path(sys.argv[2])
    seccomp = ctypes.CDLL("libseccomp.so.2")
    seccomp.seccomp_init.restype = ctypes.c_void_p
    context = ctypes.c_void_p(seccomp.seccomp_init(0x7FFF0000))  # SCMP_ACT_ALLOW
    denied = 0
    for name in names:
        number = seccomp.seccomp_syscall_resolve_name(name.encode())
        if number >= 0:
            assert seccomp.seccomp_rule_add(context, 0x00050000 | 1, number, 0) == 0  # EPERM
            denied += 1
    assert denied > 20 and seccomp.seccomp_load(context) == 0
    libc = ctypes.CDLL(None, use_errno=True)
    mdwe = libc.prctl(65, 1, 0, 0, 0) == 0  # PR_SET_MDWE where the kernel has it
    assert libc.setpriority(0, 0, 5) != 0, "the filter is not in force"
    from core_server.updates import UpdateStore, SigningKey, init_key, verify
    key = SigningKey.beside(folder / "tls")
    init_key(key, "")
    store = UpdateStore(folder / "updates", key)
    store.publish("display", folder / "src")
    verdict = verify(key.public, store.folder("display") / "SHA256SUMS")
    print(json.dumps({"mdwe": mdwe, "verdict": verdict}))
    """
)


def _expand(group: str, seen: set[str]) -> set[str]:
    listing = subprocess.run(
        ["systemd-analyze", "syscall-filter", group], capture_output=True, text=True, check=True
    ).stdout
    names: set[str] = set()
    words = [ln.strip() for ln in listing.splitlines() if not ln.strip().startswith("#")]
    for word in words:
        if not word or word == group:
            continue
        if word.startswith("@"):
            if word not in seen:
                seen.add(word)
                names |= _expand(word, seen)
        elif word.replace("_", "").isalnum():
            names.add(word)
    return names


def test_gpg_signs_under_the_core_units_system_call_rules(tmp_path: Path) -> None:
    if shutil.which("systemd-analyze") is None:
        pytest.skip("SANDBOX NOT CHECKED: no systemd-analyze for systemd's system call groups")
    names: set[str] = set()
    for group in DENIED:
        names |= _expand(group, {group})
    assert {"setrlimit", "setuid", "chown"} <= names
    update_folder(tmp_path / "src", "display", "1", size=10_000)
    done = subprocess.run(
        [sys.executable, "-c", CHILD, json.dumps(sorted(names)), str(tmp_path)],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert done.returncode == 0, done.stderr[-2000:]
    assert json.loads(done.stdout.splitlines()[-1])["verdict"] == "good"
