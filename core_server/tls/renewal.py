"""Renewal before expiry: a certificate of the appliance CA is renewed ``within`` days of its
end and loaded into every live context; a hospital-issued one is only watched (the monitoring
alert on ``alert_certificate_file``, which defaults to ``tls_cert``)."""

from __future__ import annotations

import logging
import ssl
from datetime import timedelta

from core_server.tls import certificates
from core_server.tls.certificates import Files, TlsError

log = logging.getLogger(__name__)


class Renewal:
    def __init__(self, files: Files, within: timedelta) -> None:
        self.files = files
        self.within = within
        self.contexts: list[ssl.SSLContext] = []  # the listeners' server contexts

    def check(self) -> bool:
        """Renew if due and ours; True when a new certificate was loaded."""
        if not self.files.present() or not self.files.ours:
            return False
        try:
            if not certificates.due(self.files, self.within):
                return False
            certificates.renew(self.files)
        except TlsError as exc:
            log.error("TLS certificate renewal failed: %s", exc)
            return False
        for context in self.contexts:
            context.load_cert_chain(self.files.cert, self.files.key)
        log.warning("TLS certificate %s renewed by the appliance CA", self.files.cert)
        return True
