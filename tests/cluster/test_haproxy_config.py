"""The shipped HAProxy configuration: it is the renderer's example, and Debian's HAProxy
accepts it (and what the renderer makes for other sites) without a single warning."""

from __future__ import annotations

import argparse
import subprocess
import sys
from pathlib import Path

import pytest

from core_server import cluster_commands
from core_server.cluster_commands import Frontends, Node, parse_node, render
from tests.cluster.harness import HAPROXY

SHIPPED = Path(__file__).parents[2] / "cluster" / "haproxy.cfg"


def haproxy_check(text: str, folder: Path) -> subprocess.CompletedProcess[str]:
    config = folder / "haproxy.cfg"
    config.write_text(text, encoding="utf-8")
    # -dW: a warning fails the check too (a timeout HAProxy would silently ignore, say).
    return subprocess.run([HAPROXY, "-dW", "-c", "-f", str(config)], capture_output=True, text=True)


def a_pem(folder: Path) -> Path:
    """Certificate and key in one PEM, as HAProxy's `crt` reads them (from `tls init`)."""
    data = folder / "tls-data"
    subprocess.run(
        [sys.executable, "-m", "core_server", "tls", "init", f"--data-dir={data}", "localhost"],
        check=True,
        capture_output=True,
    )
    pem = folder / "pacs.pem"
    pem.write_bytes((data / "tls/server.pem").read_bytes() + (data / "tls/server.key").read_bytes())
    return pem


def test_the_shipped_file_is_the_rendered_example() -> None:
    assert SHIPPED.read_text(encoding="utf-8") == cluster_commands.example()


def test_haproxy_accepts_the_shipped_file(tmp_path: Path) -> None:
    pem = a_pem(tmp_path)
    text = SHIPPED.read_text(encoding="utf-8")
    # Only the paths this machine lacks change: the PEM, the socket's folder, the syslog.
    text = text.replace("/etc/haproxy/pacs.pem", str(pem))
    text = text.replace("/run/haproxy/admin.sock", str(tmp_path / "admin.sock"))
    text = text.replace("log /dev/log local0", "log stdout format raw local0")
    if not Path("/var/lib/haproxy").is_dir():  # Debian's package makes it; a bare machine not
        text = text.replace("chroot /var/lib/haproxy", f"chroot {tmp_path}")
    result = haproxy_check(text, tmp_path)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "Configuration file is valid" in result.stdout


def test_every_backend_is_checked_on_healthz_of_the_same_node(tmp_path: Path) -> None:
    nodes = [Node("a", "10.1.0.1", 8081, 11113, 2577), Node("b", "10.1.0.2")]
    text = render(nodes, Frontends(stats_socket=tmp_path / "s.sock", log="stdout local0"))
    assert haproxy_check(text, tmp_path).returncode == 0
    for line in (
        "server a 10.1.0.1:11113 check port 8081",
        "server b 10.1.0.2:2575 check port 8080",
    ):
        assert line in text
    assert text.count("http-check send meth GET uri /healthz") == 3  # http, dicom, hl7
    assert text.count("fall 2") == 3 and "ssl crt" not in text  # no HTTPS without a PEM
    assert "pacs_dicom_tls" not in text


def test_only_the_his_reaches_the_mllp_ports(tmp_path: Path) -> None:
    """The nodes see HAProxy's address for every HIS, so HAProxy checks the source."""
    front = Frontends(
        stats_socket=tmp_path / "s.sock",
        log="stdout local0",
        tls_passthrough=True,
        hl7_sources=("10.1.0.0/16", "192.168.5.7"),
    )
    text = render([Node("a", "10.1.0.1")], front)
    assert haproxy_check(text, tmp_path).returncode == 0
    rule = "tcp-request connection reject unless { src 10.1.0.0/16 192.168.5.7 }"
    assert text.count(rule) == 2  # MLLP and MLLP over TLS, not DICOM
    assert text.index(rule) > text.index("listen pacs_hl7")


def test_node_option_is_parsed() -> None:
    assert parse_node("core1=10.0.0.11") == Node("core1", "10.0.0.11")
    assert parse_node("core2=10.0.0.12:8081,104,2575") == Node("core2", "10.0.0.12", 8081, 104)
    for bad in ("core1", "=10.0.0.1", "core1=10.0.0.1:8080"):
        with pytest.raises(argparse.ArgumentTypeError):
            parse_node(bad)


def test_command_writes_the_file(tmp_path: Path) -> None:
    target = tmp_path / "out.cfg"
    code = cluster_commands.main(
        ["haproxy-config", "--node", "n1=10.2.0.1", "--node", "n2=10.2.0.2", f"--output={target}"]
    )
    assert code == 0
    text = target.read_text(encoding="utf-8")
    assert "server n1 10.2.0.1:8080" in text and "server n2 10.2.0.2:11112 check port 8080" in text
