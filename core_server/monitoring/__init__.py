"""Monitoring: the core's Prometheus metrics, the system page's history and its alerts."""

from core_server.monitoring.alerts import Alert, Alerts, Condition
from core_server.monitoring.notify import MailNotifier, SyslogNotifier, notifiers
from core_server.monitoring.service import Monitoring, Thresholds, monitoring_for, node_name

__all__ = [
    "Alert",
    "Alerts",
    "Condition",
    "MailNotifier",
    "Monitoring",
    "SyslogNotifier",
    "Thresholds",
    "monitoring_for",
    "node_name",
    "notifiers",
]
