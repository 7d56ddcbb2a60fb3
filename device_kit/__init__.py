"""What every device program shares: config, enrolment, the core client, the spool, systemd
notify, logging, fonts, messages and the hardware-driver pattern. Never imports core_server."""
