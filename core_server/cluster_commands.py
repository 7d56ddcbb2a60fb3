"""``core-server cluster haproxy-config``: the HAProxy configuration for N core nodes.

Every node runs the same ``core-server serve`` on one PostgreSQL and one shared storage path;
HAProxy gives them one address (docs/cluster.md). This module renders that configuration so
that the shipped ``cluster/haproxy.cfg``, the 3-node test and a site's own file come from one
place; ``cluster/haproxy.cfg`` is :func:`example` rendered (a test keeps them equal).

Choices (the why is in docs/cluster.md):
- DICOM and HL7 MLLP are ``mode tcp``, ``balance leastconn`` (an association or an MLLP
  connection is one long TCP session; the node with the fewest takes the next).
- HTTP (web UI, REST, DICOMweb, WebSockets) is ``mode http``: HAProxy adds
  ``X-Forwarded-For/-Proto/-Host``, which the nodes believe from ``trusted_proxies`` only, so
  sign-in lockouts and the audit trail see the real client, not HAProxy.
- HTTPS is terminated by HAProxy (the client address needs the HTTP layer); DICOM TLS and
  MLLP TLS pass through to the nodes (mode tcp), which keep checking client certificates.
- Every backend, the TCP ones too, is checked by ``GET /healthz`` on the node's HTTP port:
  it answers 200 only while all of that node's listeners (HTTP, DICOM, HL7) run.
"""

from __future__ import annotations

import argparse
from dataclasses import dataclass, field
from pathlib import Path

# A dead node is out within 5 s: a first failed check after at most inter + timeout
# (1 + 1.5 s), the second after fastinter + timeout (0.5 + 1.5 s): 4.5 s at worst.
CHECK = "inter 1s fastinter 500ms downinter 2s fall 2 rise 2 on-marked-down shutdown-sessions"


@dataclass(frozen=True)
class Node:
    """One core node: its address and the ports of its ``core-server serve``."""

    name: str
    address: str
    http: int = 8080
    dicom: int = 11112
    hl7: int = 2575
    dicom_tls: int = 2762
    hl7_tls: int = 2576


@dataclass(frozen=True)
class Frontends:
    """What HAProxy listens on (clients see these), and where its stats go."""

    bind: str = "*"
    http: int = 8080
    dicom: int = 11112
    hl7: int = 2575
    https: int = 8443
    dicom_tls: int = 2762
    hl7_tls: int = 2576
    # cert + key in one PEM (cat server.pem server.key); None: no HTTPS frontend.
    tls_pem: Path | None = None
    # DICOM TLS and MLLP TLS passthrough frontends (the nodes hold the certificates).
    tls_passthrough: bool = False
    stats_socket: Path = Path("/run/haproxy/admin.sock")
    stats_bind: str | None = "127.0.0.1:8404"
    log: str = "/dev/log local0"
    # Debian's package: HAProxy starts as root, binds, then drops to this user in this chroot
    # (its unit binds /dev/log into it). None: stay as started (the tests, not root).
    run_as: str | None = "haproxy"
    chroot: Path | None = Path("/var/lib/haproxy")
    # The HIS addresses that may reach the MLLP ports (see _source_rule); () : anyone.
    hl7_sources: tuple[str, ...] = ()
    extra_global: list[str] = field(default_factory=list)


def render(nodes: list[Node], front: Frontends) -> str:
    """The whole configuration file, commented."""
    if not nodes:
        raise ValueError("a cluster needs at least one node")
    parts = [_global(front), _defaults(), _http(nodes, front)]
    parts.append(
        _tcp(
            "dicom",
            "DICOM (C-STORE/FIND/MOVE/GET, MWL, MPPS, commitment)",
            900,
            front.bind,
            front.dicom,
            [(n, n.dicom) for n in nodes],
        )
    )
    parts.append(
        _tcp(
            "hl7",
            "HL7 v2 MLLP from the HIS (ACK on the same connection)",
            3600,
            front.bind,
            front.hl7,
            [(n, n.hl7) for n in nodes],
            front.hl7_sources,
        )
    )
    if front.tls_passthrough:
        parts.append(
            _tcp(
                "dicom_tls",
                "DICOM TLS, passed through: the nodes terminate it",
                900,
                front.bind,
                front.dicom_tls,
                [(n, n.dicom_tls) for n in nodes],
            )
        )
        parts.append(
            _tcp(
                "hl7_tls",
                "MLLP over TLS, passed through: the nodes terminate it",
                3600,
                front.bind,
                front.hl7_tls,
                [(n, n.hl7_tls) for n in nodes],
                front.hl7_sources,
            )
        )
    if front.stats_bind:
        parts.append(_stats(front.stats_bind))
    return "\n".join(parts)


def _global(front: Frontends) -> str:
    lines = [
        "# HAProxy in front of the imaging core's nodes (rendered by",
        "# `core-server cluster haproxy-config`; explained in docs/cluster.md).",
        "global",
        f"    log {front.log}",
        *([f"    user {front.run_as}", f"    group {front.run_as}"] if front.run_as else []),
        *([f"    chroot {front.chroot}"] if front.chroot else []),
        "    maxconn 4096",
        "    # `show servers state`, `show stat`: what the checks think of each node.",
        f"    stats socket {front.stats_socket} mode 600 level admin",
        "    stats timeout 30s",
        "    ssl-default-bind-options ssl-min-ver TLSv1.2 no-tls-tickets",
        *(f"    {line}" for line in front.extra_global),
        "",
    ]
    return "\n".join(lines)


def _defaults() -> str:
    return "\n".join(
        [
            "defaults",
            "    log global",
            "    option dontlognull",
            "    timeout connect 3s",
            "    # Checks answer within this or count as failed (see `inter` below).",
            "    timeout check 1500ms",
            "    # A refused connection (a node just killed, not yet marked down) is tried",
            "    # again on another node: the client sees no failure for it.",
            "    retries 3",
            "    option redispatch 1",
            "",
        ]
    )


def _health() -> list[str]:
    return [
        "    # 200 only while every listener of that node (HTTP, DICOM, HL7) runs; 503 while",
        "    # it starts. `degraded` (disk low) stays 200: reading still works there.",
        "    option httpchk",
        "    http-check send meth GET uri /healthz",
        "    http-check expect status 200",
    ]


def _http(nodes: list[Node], front: Frontends) -> str:
    lines = [
        "# Web UI, REST, DICOMweb, device programs and their WebSockets (/api/ws).",
        "frontend pacs_http",
        "    mode http",
        "    option httplog",
        f"    bind {front.bind}:{front.http}",
    ]
    if front.tls_pem is not None:
        lines += [
            "    # HTTPS ends here: the client address must reach the nodes (forwarded headers).",
            f"    bind {front.bind}:{front.https} ssl crt {front.tls_pem} alpn h2,http/1.1",
            "    http-response set-header Strict-Transport-Security max-age=31536000 if { ssl_fc }",
        ]
    lines += [
        "    timeout client 60s",
        "    timeout http-request 30s",
        "    timeout http-keep-alive 10s",
        "    # The nodes believe these from `trusted_proxies` only (core_server/web/proxies.py):",
        "    # the client's own X-Forwarded-Proto/-Host are replaced, X-Forwarded-For appended to.",
        "    option forwardfor",
        "    http-request set-header X-Forwarded-Proto https if { ssl_fc }",
        "    http-request set-header X-Forwarded-Proto http unless { ssl_fc }",
        "    http-request set-header X-Forwarded-Host %[req.hdr(host)]",
        "    default_backend pacs_http",
        "",
        "backend pacs_http",
        "    mode http",
        "    # Sessions and tokens live in PostgreSQL: any node serves any request, no stickiness.",
        "    balance leastconn",
        "    # Long renders, big STOW-RS uploads and exports.",
        "    timeout server 300s",
        "    # A WebSocket is a tunnel after its upgrade; uvicorn pings it every 20 s.",
        "    timeout tunnel 1h",
        *_health(),
        f"    default-server check {CHECK}",
        *(f"    server {n.name} {n.address}:{n.http}" for n in nodes),
        "",
    ]
    return "\n".join(lines)


def _source_rule(sources: tuple[str, ...] | None) -> list[str]:
    """Behind HAProxy the core sees HAProxy's address as every HIS's: its HL7 allow-list can
    only go by MSH-3/MSH-4 then, so the addresses are checked here, before the node."""
    if sources is None:
        return []
    if not sources:
        return [
            "    # Only the HIS may connect: --hl7-source ADDRESS/NET renders",
            "    # tcp-request connection reject unless { src 10.1.0.0/16 }",
        ]
    return [f"    tcp-request connection reject unless {{ src {' '.join(sources)} }}"]


def _tcp(
    name: str,
    what: str,
    idle: int,
    bind: str,
    port: int,
    servers: list[tuple[Node, int]],
    sources: tuple[str, ...] | None = None,
) -> str:
    lines = [
        f"# {what}.",
        f"listen pacs_{name}",
        "    mode tcp",
        "    option tcplog",
        f"    bind {bind}:{port}",
        *_source_rule(sources),
        "    balance leastconn",
        f"    # An open association or MLLP connection may idle this long ({idle} s).",
        f"    timeout client {idle}s",
        f"    timeout server {idle}s",
        "    option clitcpka",
        "    option srvtcpka",
        "    # Checked through the same node's /healthz (its HTTP port), which counts this",
        "    # listener: a node whose port is down leaves even if TCP still connects.",
        *_health(),
        f"    default-server {CHECK}",
        *(f"    server {n.name} {n.address}:{p} check port {n.http}" for n, p in servers),
        "",
    ]
    return "\n".join(lines)


def _stats(bind: str) -> str:
    return "\n".join(
        [
            "# The same state as a page, for the administrator (bound to the loopback).",
            "listen stats",
            "    mode http",
            f"    bind {bind}",
            "    timeout client 30s",
            "    timeout server 30s",
            "    stats enable",
            "    stats uri /",
            "    stats refresh 5s",
            "    stats show-legends",
            "",
        ]
    )


def example() -> str:
    """The shipped ``cluster/haproxy.cfg``: three nodes on a private network, TLS on."""
    nodes = [Node(f"core{i}", f"10.0.0.{10 + i}") for i in (1, 2, 3)]
    front = Frontends(tls_pem=Path("/etc/haproxy/pacs.pem"), tls_passthrough=True)
    return render(nodes, front)


def parse_node(text: str) -> Node:
    """``NAME=ADDRESS`` or ``NAME=ADDRESS:HTTP,DICOM,HL7``."""
    name, sep, rest = text.partition("=")
    if not sep or not name or not rest:
        raise argparse.ArgumentTypeError(f"--node {text!r}: NAME=ADDRESS[:HTTP,DICOM,HL7]")
    address, _, ports = rest.rpartition(":") if ":" in rest else (rest, "", "")
    if not ports:
        return Node(name, rest)
    try:
        http, dicom, hl7 = (int(p) for p in ports.split(","))
    except ValueError:
        raise argparse.ArgumentTypeError(f"--node {text!r}: ports are HTTP,DICOM,HL7") from None
    return Node(name, address, http, dicom, hl7)


def add(commands: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    """``core-server cluster haproxy-config`` (for cli.py)."""
    cluster = commands.add_parser("cluster", help="several core nodes behind HAProxy")
    actions = cluster.add_subparsers(dest="action", required=True)
    leaf = actions.add_parser("haproxy-config", help="print the HAProxy configuration")
    leaf.add_argument(
        "--node",
        action="append",
        type=parse_node,
        default=[],
        required=True,
        help="NAME=ADDRESS[:HTTP,DICOM,HL7], once per node",
    )
    leaf.add_argument("--bind", default="*", help="address HAProxy listens on (default all)")
    leaf.add_argument("--tls-pem", type=Path, help="certificate + key PEM: an HTTPS frontend")
    leaf.add_argument(
        "--tls-passthrough",
        action="store_true",
        help="DICOM TLS and MLLP TLS frontends passed through to the nodes",
    )
    leaf.add_argument(
        "--hl7-source",
        action="append",
        default=[],
        help="address or network of a HIS that may use the MLLP ports (repeat)",
    )
    leaf.add_argument("--stats-socket", type=Path, default=Path("/run/haproxy/admin.sock"))
    leaf.add_argument("--output", type=Path, help="write here instead of standard output")


def run(args: argparse.Namespace) -> int:
    front = Frontends(
        bind=args.bind,
        tls_pem=args.tls_pem,
        tls_passthrough=args.tls_passthrough,
        stats_socket=args.stats_socket,
        hl7_sources=tuple(args.hl7_source),
    )
    text = render(args.node, front)
    if args.output is None:
        print(text, end="")
    else:
        args.output.write_text(text, encoding="utf-8")
    return 0


def main(argv: list[str] | None = None) -> int:
    """Stand-alone entry (``python -m core_server.cluster_commands haproxy-config ...``)
    until cli.py wires :func:`add`/:func:`run`."""
    parser = argparse.ArgumentParser(prog="core-server")
    add(parser.add_subparsers(dest="command", required=True))
    return run(parser.parse_args(["cluster", *(argv or [])]))


if __name__ == "__main__":
    import sys

    raise SystemExit(main(sys.argv[1:]))
