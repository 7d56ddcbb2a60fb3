"""Each alert raised once by a real condition and cleared when it ends, on both databases:
a disk past its limit (the limit set at the temp dir's real usage), an HL7 job pending for
longer than the stall limit, a device program never or long not seen, a certificate (made by
openssl) near its expiry. Mail goes to a real local SMTP server (aiosmtpd), syslog to a real
UDP socket."""

from __future__ import annotations

import socket
import subprocess
from collections.abc import Iterator
from dataclasses import replace
from datetime import timedelta
from email import message_from_bytes
from email.header import decode_header, make_header
from pathlib import Path

import pytest
from aiosmtpd.controller import Controller
from aiosmtpd.handlers import Message
from sqlalchemy import Engine, select, update

from core_server import clock, db
from core_server.hl7 import outbound
from core_server.hl7.tables import hl7_outbound_jobs as jobs
from core_server.monitoring import Alert, Monitoring, SyslogNotifier, Thresholds
from core_server.monitoring.notify import MailNotifier
from core_server.monitoring.readings import disks
from core_server.monitoring.tables import monitoring_alerts, monitoring_samples
from core_server.queueing import devices
from tests.conftest import free_port

HL7 = "MSH|^~\\&|PACS||HIS||20261201||ORM^O01|1|P|2.4\r"


@pytest.fixture
def engine(database_url: str) -> Iterator[Engine]:
    engine = db.make_engine(database_url)
    db.migrate(engine)
    yield engine
    engine.dispose()


class Recorder:
    def __init__(self) -> None:
        self.seen: list[tuple[str, str]] = []

    def __call__(self, change: str, alert: Alert) -> None:
        self.seen.append((change, alert.key))


def monitoring(engine: Engine, tmp_path: Path, **limits: object) -> tuple[Monitoring, Recorder]:
    (tmp_path / "storage").mkdir(exist_ok=True)
    recorder = Recorder()
    found = Monitoring(
        engine,
        storage_dir=tmp_path / "storage",
        data_dir=tmp_path,
        node="node-a:8080",
        thresholds=Thresholds(disk_percent=100.0, device_offline=None, **limits),  # type: ignore[arg-type]
        notifiers=[recorder],
    )
    return found, recorder


def open_alerts(engine: Engine) -> list[str]:
    c = monitoring_alerts.c
    with db.read(engine) as conn:
        return sorted(r.key for r in conn.execute(select(c.key).where(c.open_key.is_not(None))))


def test_disk_alert_raised_once_and_cleared(engine: Engine, tmp_path: Path) -> None:
    m, recorder = monitoring(engine, tmp_path)
    used = min(d.percent for d in disks(tmp_path / "storage", tmp_path))
    m.thresholds = replace(m.thresholds, disk_percent=used)  # the disk is now "too full"
    m.tick()
    m.tick()  # still too full: not raised again
    assert open_alerts(engine) == ["disk:data@node-a:8080", "disk:storage@node-a:8080"]
    assert recorder.seen == [
        ("raised", "disk:storage@node-a:8080"),
        ("raised", "disk:data@node-a:8080"),
    ]
    (listed,) = [
        a for a in m.alerts.listing(clock.now() - timedelta(hours=1)) if "storage" in a.key
    ]
    assert f"{used}%" in listed.text("zh") and "影像存储" in listed.text("zh")
    assert listed.as_dict("en")["raised_at"].endswith("+08:00")
    m.thresholds = replace(m.thresholds, disk_percent=100.0)
    m.tick()
    assert open_alerts(engine) == []
    assert [c for c, _ in recorder.seen] == ["raised", "raised", "cleared", "cleared"]
    cleared = m.alerts.listing(clock.now() - timedelta(hours=1))
    assert len(cleared) == 2 and all(a.cleared_at is not None for a in cleared)
    m.tick()  # once more too full: a new alert, the old one stays in the history
    m.thresholds = replace(m.thresholds, disk_percent=used)
    m.tick()
    assert len(m.alerts.listing(clock.now() - timedelta(hours=1))) == 4


def test_a_node_clears_only_its_own_disk_alerts(engine: Engine, tmp_path: Path) -> None:
    a, _ = monitoring(engine, tmp_path)
    used = min(d.percent for d in disks(tmp_path / "storage", tmp_path))
    a.thresholds = replace(a.thresholds, disk_percent=used)
    a.tick()
    b, _ = monitoring(engine, tmp_path)
    b.node = b.alerts.node = "node-b:8080"
    b.tick()  # node b's disks are fine (limit 100 %): a's alerts stay open
    assert open_alerts(engine) == ["disk:data@node-a:8080", "disk:storage@node-a:8080"]


def test_queue_stall_raised_and_cleared(engine: Engine, tmp_path: Path) -> None:
    m, recorder = monitoring(engine, tmp_path, queue_stall=timedelta(minutes=30))
    outbound.add_destination(engine, outbound.Destination("HIS", "127.0.0.1", 9, enabled=False))
    job = outbound.enqueue(engine, "HIS", HL7)
    m.tick()
    assert open_alerts(engine) == []  # pending, but only just
    with db.write(engine) as conn:
        conn.execute(
            update(jobs)
            .where(jobs.c.id == job)
            .values(created_at=clock.now() - timedelta(minutes=31))
        )
    m.tick()
    assert open_alerts(engine) == ["queue:hl7_outbound"]
    (alert,) = m.alerts.listing(clock.now() - timedelta(hours=1))
    assert alert.text("zh").startswith("HL7 发送队列停滞") and "31 分钟" in alert.text("zh")
    with db.write(engine) as conn:
        conn.execute(update(jobs).where(jobs.c.id == job).values(status="sent"))
    m.tick()
    assert open_alerts(engine) == []
    assert recorder.seen == [("raised", "queue:hl7_outbound"), ("cleared", "queue:hl7_outbound")]


def test_device_offline_raised_and_cleared(engine: Engine, tmp_path: Path) -> None:
    m, recorder = monitoring(engine, tmp_path)
    m.thresholds = replace(m.thresholds, device_offline=timedelta(minutes=15))
    devices.create_device(engine, "printer-1", "printer")
    m.tick()  # enrolled, never seen
    assert open_alerts(engine) == ["device:printer-1"]
    devices.touch(engine, "device-printer-1")
    m.tick()
    assert open_alerts(engine) == []
    # Seen 16 minutes ago: offline again.
    with db.write(engine) as conn:
        conn.execute(
            update(devices.devices).values(last_seen_at=clock.now() - timedelta(minutes=16))
        )
    m.tick()
    assert open_alerts(engine) == ["device:printer-1"]
    assert [c for c, _ in recorder.seen] == ["raised", "cleared", "raised"]


def certificate(path: Path, days: int) -> Path:
    subprocess.run(
        ["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-subj", "/CN=pacs.test",
         "-keyout", str(path.with_suffix(".key")), "-out", str(path), "-days", str(days)],
        check=True, capture_output=True,
    )  # fmt: skip
    return path


def test_certificate_near_expiry_raised_and_cleared(engine: Engine, tmp_path: Path) -> None:
    cert = certificate(tmp_path / "server.pem", 5)
    m, recorder = monitoring(
        engine, tmp_path, certificate_file=cert, certificate_within=timedelta(days=30)
    )
    m.tick()
    assert open_alerts(engine) == ["certificate@node-a:8080"]
    (alert,) = m.alerts.listing(clock.now() - timedelta(hours=1))
    assert alert.values["days"] in (4, 5)
    certificate(cert, 400)  # renewed
    m.tick()
    assert open_alerts(engine) == []
    assert [c for c, _ in recorder.seen] == ["raised", "cleared"]


def test_no_certificate_configured_is_no_alert(engine: Engine, tmp_path: Path) -> None:
    m, recorder = monitoring(engine, tmp_path)
    m.tick()
    assert recorder.seen == [] and open_alerts(engine) == []


def test_samples_written_and_pruned(engine: Engine, tmp_path: Path) -> None:
    m, _ = monitoring(engine, tmp_path)
    m.tick()
    m.tick()
    with db.write(engine) as conn:  # one sample from three days ago
        conn.execute(
            monitoring_samples.insert().values(
                node="node-a:8080", sampled_at=clock.now() - timedelta(days=3), cpu_percent=1,
                memory_percent=1, storage_percent=1, data_percent=1, load1=0.1,
            )
        )  # fmt: skip
    page = m.page("zh")
    assert len(page["history"]["times"]) == 2  # the last day only
    assert all(0 <= v <= 100 for v in page["history"]["memory_percent"])
    assert page["now"]["memory_total_bytes"] > 0
    m.tick()  # pruned: older than the 48 hours kept
    with db.read(engine) as conn:
        assert len(conn.execute(select(monitoring_samples)).all()) == 3


def sample_alert() -> Alert:
    return Alert(
        1, "disk:storage@n", "disk", "storage /srv",
        {"area": "storage", "path": "/srv/pacs", "percent": 91.5, "limit": 85.0},
        clock.now(), None,
    )  # fmt: skip


def test_mail_to_a_real_smtp_server() -> None:
    handler = Received()
    controller = Controller(handler, hostname="127.0.0.1", port=free_port())
    controller.start()
    try:
        notify = MailNotifier(
            f"127.0.0.1:{controller.port}", "pacs@hospital.cn", ["it@hospital.cn"], "市人民医院",
            "node-a:8080",
        )  # fmt: skip
        notify("raised", sample_alert())
    finally:
        controller.stop()
    (mail,) = handler.messages
    subject = str(make_header(decode_header(mail["Subject"])))
    assert subject == "[市人民医院] 告警：影像存储磁盘已用 91.5%（告警线 85.0%）：/srv/pacs"
    assert mail["To"] == "it@hospital.cn"
    text = mail.get_payload(decode=True).decode("utf-8")
    assert "Alert: Image storage disk 91.5% full" in text and "node-a:8080" in text


class Received(Message):
    def __init__(self) -> None:
        super().__init__()
        self.messages: list = []

    def handle_message(self, message: object) -> None:
        self.messages.append(message)

    def prepare_message(self, session, envelope):  # type: ignore[no-untyped-def]
        return message_from_bytes(envelope.content)


def test_syslog_to_a_real_udp_socket() -> None:
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as receiver:
        receiver.bind(("127.0.0.1", 0))
        receiver.settimeout(5)
        notify = SyslogNotifier(f"127.0.0.1:{receiver.getsockname()[1]}", "node-a:8080")
        notify("raised", sample_alert())
        notify.close()
        datagram = receiver.recv(4096).decode("utf-8")
    assert datagram.startswith("<28>")  # facility daemon (3) * 8 + warning (4)
    assert "alert raised: disk storage /srv" in datagram and "91.5% full" in datagram
