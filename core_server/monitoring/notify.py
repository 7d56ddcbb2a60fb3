"""Where alerts go besides the system page: syslog (the stdlib's ``SysLogHandler``) and mail
(``smtplib`` to the configured server). Both are built from settings; an empty setting is off.
Texts are in Chinese, the hospital's language, with the English after them for a vendor's
engineer reading the same mail or log."""

from __future__ import annotations

import logging
import logging.handlers
import smtplib
import socket
from email.message import EmailMessage

from core_server import clock, i18n
from core_server.monitoring.alerts import Alert, Notifier


def subject_line(change: str, alert: Alert, hospital: str) -> str:
    return i18n.translate(
        "zh", f"monitoring.notify.{change}", hospital=hospital, text=alert.text("zh")
    )


def body(change: str, alert: Alert, node: str) -> str:
    at = alert.cleared_at if change == "cleared" and alert.cleared_at else alert.raised_at
    lines = [
        i18n.translate("zh", f"monitoring.notify.{change}_line", text=alert.text("zh")),
        i18n.translate("en", f"monitoring.notify.{change}_line", text=alert.text("en")),
        "",
        f"{i18n.translate('zh', 'monitoring.notify.when')}: {clock.shown(at, '%Y-%m-%d %H:%M:%S')}",
        f"{i18n.translate('zh', 'monitoring.notify.node')}: {node}",
    ]
    return "\n".join(lines) + "\n"


def mail_message(
    change: str, alert: Alert, *, sender: str, to: list[str], hospital: str, node: str
) -> EmailMessage:
    message = EmailMessage()
    message["Subject"] = subject_line(change, alert, hospital)
    message["From"] = sender
    message["To"] = ", ".join(to)
    message.set_content(body(change, alert, node))
    return message


class MailNotifier:
    def __init__(self, server: str, sender: str, to: list[str], hospital: str, node: str) -> None:
        host, _, port = server.partition(":")
        self.host, self.port = host, int(port or 25)
        self.sender, self.to, self.hospital, self.node = sender, to, hospital, node

    def __call__(self, change: str, alert: Alert) -> None:
        message = mail_message(
            change, alert, sender=self.sender, to=self.to, hospital=self.hospital, node=self.node
        )
        with smtplib.SMTP(self.host, self.port, timeout=10) as smtp:
            smtp.send_message(message)


class SyslogNotifier:
    """host:port (UDP) or a socket path; facility daemon; raised as WARNING, cleared as INFO."""

    def __init__(self, target: str, node: str) -> None:
        if target.startswith("/"):
            address: str | tuple[str, int] = target
        else:
            host, _, port = target.rpartition(":")
            address = (host or "localhost", int(port or 514))
        self.handler = logging.handlers.SysLogHandler(
            address, facility=logging.handlers.SysLogHandler.LOG_DAEMON, socktype=socket.SOCK_DGRAM
        )
        self.node = node

    def __call__(self, change: str, alert: Alert) -> None:
        level = logging.WARNING if change == "raised" else logging.INFO
        text = (
            f"pacs[{self.node}]: alert {change}: {alert.kind} {alert.subject}: {alert.text('en')}"
        )
        self.handler.emit(logging.LogRecord("pacs.alerts", level, __file__, 0, text, None, None))

    def close(self) -> None:
        self.handler.close()


def notifiers(
    *, mail_to: str, smtp_host: str, smtp_from: str, syslog: str, hospital: str, node: str
) -> list[Notifier]:
    found: list[Notifier] = []
    recipients = [a.strip() for a in mail_to.split(",") if a.strip()]
    if recipients and smtp_host:
        found.append(MailNotifier(smtp_host, smtp_from, recipients, hospital, node))
    if syslog:
        found.append(SyslogNotifier(syslog, node))
    return found
