"""One settings object for the core server.

Every option comes, in rising priority, from its default, a TOML config file (``--config`` or
``CORE_CONFIG``), an environment variable ``CORE_<OPTION>`` and the command line.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any, Literal

from pydantic import Field, field_validator, model_validator
from pydantic_settings import (
    BaseSettings,
    PydanticBaseSettingsSource,
    SettingsConfigDict,
    TomlConfigSettingsSource,
)

from core_server import clock


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="CORE_", extra="forbid")

    data_dir: Path = Field(Path("var"), description="Database, storage area and secrets")
    storage_path: Path | None = Field(
        None,
        description="The online storage area's folder (default: data_dir/storage); in a "
        "cluster, one shared path that every node mounts",
    )
    host: str = Field("0.0.0.0", description="Address every listener binds to")
    http_port: int = Field(8080, description="HTTP port: REST API, web UI, DICOMweb")
    dicom_port: int = Field(11112, description="DICOM port (C-ECHO/STORE/FIND/MOVE/GET, commit)")
    hl7_port: int = Field(2575, description="HL7 v2 MLLP port (the listener comes with the RIS)")
    hl7_processing_ids: str = Field(
        "P",
        description="MSH-11 processing IDs whose messages are applied, comma-separated (P"
        " production, T training/test, D debugging); others are logged and ACKed, not applied",
    )
    hl7_retention_days: int = Field(
        0,
        ge=0,
        description="Answered HL7 messages and delivered outbound jobs older than this many days"
        " are removed (hourly); 0 keeps them for ever",
    )
    ae_title: str = Field("PACS", max_length=16, description="The archive's own AE title")
    database_url: str | None = Field(
        None, description="SQLAlchemy URL; default SQLite at <data-dir>/core.db"
    )
    strict_ae: bool = Field(
        False, description="Refuse every association from an AE title that is not registered"
    )
    admin_password: str | None = Field(
        None, description="Password of the first 'admin' user; random if unset"
    )
    token_hours: float = Field(
        12.0, description="Lifetime of a bearer token or browser session, in hours"
    )
    session_idle_minutes: int = Field(
        30, ge=0, description="A browser session ends after this long without use; 0 = never"
    )
    # Web shell and auth (docs/web.md): password policy, reverse proxies, disk space.
    password_min_length: int = Field(8, ge=6, le=64, description="Shortest password accepted")
    password_min_classes: int = Field(
        2,
        ge=1,
        le=4,
        description="Character classes a password needs (lower case, upper case, digits, other)",
    )
    password_refuse_common: bool = Field(
        True, description="Refuse common passwords (digit runs, keyboard walks, password1...)"
    )
    password_history: int = Field(
        5, ge=0, le=24, description="A local user may not reuse any of their last N passwords"
    )
    password_max_age_days: int = Field(
        0,
        ge=0,
        description="A local password older than this must be changed at sign-in; 0 = never",
    )
    # Sign-in (docs/signin.md): lockout, TOTP, the hospital's directory.
    signin_lock_failures: int = Field(
        5, ge=1, description="Failures of one account from one address that lock that pair"
    )
    signin_lock_minutes: int = Field(15, ge=1, description="How long such a lock holds")
    totp_required_for_admins: bool = Field(
        False, description="Administrators must sign in with a TOTP code (enrolled at sign-in)"
    )
    totp_issuer: str = Field("PACS", description="Issuer name shown in the authenticator app")
    ldap_urls: str = Field(
        "",
        description="Directory servers, comma-separated, tried in turn (ldap://host or"
        " ldaps://host:636); empty: no directory, local accounts only",
    )
    ldap_start_tls: bool = Field(False, description="StartTLS on ldap:// servers")
    ldap_ca_file: Path | None = Field(
        None, description="CA (PEM) the directory's certificate is checked against"
    )
    ldap_bind_dn: str = Field(
        "", description="Service account that searches for users; empty: anonymous search"
    )
    ldap_bind_password: str = Field("", description="Its password")
    ldap_upn_suffix: str = Field(
        "",
        description="Active Directory: bind as <user>@<this suffix> (no service account needed)",
    )
    ldap_user_base: str = Field("", description="Where users are searched (e.g. ou=people,dc=...)")
    ldap_user_filter: str = Field(
        "(uid={username})",
        description="User search filter; Active Directory: (sAMAccountName={username})",
    )
    ldap_display_name_attribute: str = Field(
        "displayName", description="The attribute holding the user's (Chinese) name"
    )
    ldap_group_base: str = Field(
        "", description="Where groups are searched; default: the user base"
    )
    ldap_group_roles: dict[str, str] = Field(
        default_factory=dict,
        description="Role -> group DN, first match wins (TOML table, or JSON in the"
        " environment), e.g. reporting_doctor = 'cn=pacs-radiologists,ou=groups,dc=h,dc=cn'",
    )
    ldap_nested_groups: bool = Field(
        False,
        description="Active Directory only: count nested group membership"
        " (LDAP_MATCHING_RULE_IN_CHAIN 1.2.840.113556.1.4.1941)",
    )
    ldap_timeout: float = Field(5.0, gt=0, description="Directory connect/answer timeout (s)")
    trusted_proxies: str = Field(
        "",
        description="Reverse proxies (addresses or networks, comma-separated) whose"
        " X-Forwarded-For/-Proto/-Host are believed; default none",
    )
    min_free_disk_mb: int = Field(
        1024, ge=0, description="/healthz says degraded below this much free disk (MiB); 0 = off"
    )
    hospital_name: str = Field(
        "",
        description="Shown in the web pages' header; default 医学影像中心 (Medical Imaging Center)",
    )
    timezone: str = Field(
        "Asia/Shanghai",
        description="The hospital's time zone (IANA name): every time shown, printed or sent"
        " (HL7, DICOM, API offsets) is in it, whatever zone the machine runs in",
    )
    public_url: str = Field(
        "",
        description="The address clinicians reach this server at (e.g. https://pacs.example.cn),"
        " for links printed on reports (QR code); default: the address a request came to",
    )
    dicom_max_pdu: int = Field(
        1048576, description="Largest P-DATA PDU the archive accepts (bytes; 0 = unlimited)"
    )
    dicom_network_timeout: float = Field(60.0, description="DICOM network/DIMSE timeout (s)")
    dicom_artim_timeout: float = Field(
        30.0,
        gt=0,
        description="ARTIM timer (PS3.8): a connection on the DICOM port must send its whole"
        " association request within this many seconds, else it is aborted and closed (s)",
    )
    dicom_direct_path: bool = Field(
        True,
        description="Serve storage, verification and query/retrieve associations on the direct"
        " path (one blocking thread, see the README's DICOM conformance); off: pynetdicom"
        " serves every association",
    )
    dicom_workers: int = Field(
        1,
        ge=0,
        description="Processes serving the DICOM port together (SO_REUSEPORT); 0 = one per CPU",
    )
    viewer_dir: Path | None = Field(
        None,
        description="The installed OHIF viewer; default <python prefix>/share/ohif/<version>",
    )
    # Monitoring (docs/monitoring.md): /metrics, the system page's history, alerts.
    metrics_token: str = Field(
        "",
        description="Bearer token a Prometheus server presents to scrape /metrics (signed-in"
        " admins need none); empty: admins only",
    )
    monitoring_sample_seconds: float = Field(
        60.0, gt=0, description="How often the core samples CPU, memory, disk and load (s)"
    )
    monitoring_keep_hours: int = Field(
        48, ge=1, description="Samples of the system page and cleared alerts kept this long"
    )
    alert_disk_percent: float = Field(
        85.0, gt=0, le=100, description="Alert when the storage or data disk is this full (%)"
    )
    alert_queue_stall_minutes: int = Field(
        30,
        ge=1,
        description="Alert when a queue's (HL7 outbound, report output) oldest pending job is"
        " older than this (minutes)",
    )
    alert_device_offline_minutes: int = Field(
        15,
        ge=0,
        description="A device program not seen for this long counts offline, and is alerted"
        " (minutes); 0 = no device alerts",
    )
    alert_certificate_file: Path | None = Field(
        None, description="A PEM certificate whose expiry is watched (the HTTPS one); none: off"
    )
    alert_certificate_days: int = Field(
        30, ge=1, description="Alert when the watched certificate expires within this many days"
    )
    alert_syslog: str = Field(
        "",
        description="Send alerts to syslog: host:port (UDP) or a socket path such as /dev/log;"
        " empty: off",
    )
    alert_mail_to: str = Field(
        "", description="Mail alerts to these addresses (comma-separated); empty: off"
    )
    smtp_host: str = Field("", description="Mail server for alerts (host or host:port, port 25)")
    smtp_from: str = Field("pacs@localhost", description="Sender address of alert mails")
    # Who may be burned, and the cloud film (docs/discs.md).
    disc_images_without_report: bool = Field(
        False,
        description="Exams may be burned (and shown on the cloud film) before their report is"
        " signed, images only; default: only with the signed report",
    )
    cloud_film_days: int = Field(
        30, ge=1, le=3650, description="A disc's cloud-film link (its QR code) works this many days"
    )
    # The Print SCP (docs/film.md).
    film_dpi: int = Field(
        150,
        ge=10,
        le=600,
        description="Resolution of the film sheets a modality prints to the appliance, archived"
        " as Secondary Capture (14x17 in at 150 dpi: 2100 x 2550 pixels)",
    )
    # Disc jobs (docs/discs.md).
    disc_fee_yuan: float = Field(
        0, ge=0, le=1000, description="Fee per disc burned (元), recorded on each job; 0: free"
    )
    disc_lease_seconds: int = Field(
        120,
        ge=10,
        le=3600,
        description="A kiosk's hold on a disc job lasts this long after its"
        " last report; then the job is queued again (failed after 3 times)",
    )
    # Endoscopy (docs/capture-core.md).
    scope_disinfection_hours: float = Field(
        24,
        gt=0,
        le=720,
        description="A scope whose last passed disinfection ended longer ago than this warns"
        " before capture",
    )
    # TLS (docs/tls.md): certificates and the TLS ports; the listeners start when the files exist.
    tls_cert: Path | None = Field(
        None, description="Server certificate chain (PEM); default <data-dir>/tls/server.pem"
    )
    tls_key: Path | None = Field(
        None, description="Its private key (PEM, unencrypted); default <data-dir>/tls/server.key"
    )
    tls_ca: Path | None = Field(
        None,
        description="The CA that signed it (PEM; given to devices at enrolment, checks client"
        " certificates); default <data-dir>/tls/ca.pem",
    )
    https_port: int = Field(8443, description="HTTPS port (web UI, REST, DICOMweb, WebSockets)")
    dicom_tls_port: int = Field(2762, description="DICOM TLS port (PS3.15 B.9 BCP 195 profile)")
    hl7_tls_port: int = Field(2576, description="HL7 v2 MLLP over TLS port")
    cleartext: bool = Field(
        True,
        description="Keep the plain ports open; false: plain DICOM and MLLP closed, HTTP only"
        " redirects to HTTPS (and answers /healthz)",
    )
    tls_client_certs: Literal["none", "optional", "required"] = Field(
        "none",
        description="Client certificates on the DICOM and MLLP TLS ports, checked against"
        " tls_ca: none (not asked), optional (checked when sent), required",
    )
    tls_legacy_ciphers: bool = Field(
        False,
        description="Also offer AES-CBC with RSA key exchange (PS3.15 B.3 AES profile, still"
        " TLS 1.2) on the DICOM and MLLP TLS ports, for old modalities",
    )
    tls_renew_days: int = Field(
        30, ge=1, description="Renew a certificate of the appliance CA this long before expiry"
    )
    # IHE ATNA (docs/atna.md): the audit trail out to the hospital's audit repository.
    atna_host: str = Field("", description="Audit repository host for IHE ATNA syslog ('': off)")
    atna_port: int = Field(6514, description="Audit repository port (6514 TLS, 514 UDP)")
    atna_transport: Literal["tls", "udp"] = Field(
        "tls", description="ATNA syslog transport: tls (RFC 5425) or udp (RFC 5426)"
    )
    atna_ca: Path | None = Field(
        None,
        description="CA (PEM) the audit repository's certificate is checked against"
        " (default: the system's CAs)",
    )
    atna_site: str = Field("", description="AuditEnterpriseSiteID in ATNA messages (the hospital)")
    backup_recipients: str = Field(
        "",
        description="age public keys (age1..., comma-separated) backups are encrypted to"
        " ('': not encrypted; docs/backup.md)",
    )
    log_level: str = Field("INFO", description="Python logging level")
    config: Path | None = Field(None, description="TOML config file with any of these options")

    @field_validator("timezone")
    @classmethod
    def _known_zone(cls, value: str) -> str:
        clock.parse_zone(value)
        return value.strip()

    @model_validator(mode="after")
    def _tls_paths(self) -> Settings:
        """The TLS files default to <data-dir>/tls/, and the watched certificate to ours."""
        folder = self.data_dir / "tls"
        self.tls_cert = self.tls_cert or folder / "server.pem"
        self.tls_key = self.tls_key or folder / "server.key"
        self.tls_ca = self.tls_ca or folder / "ca.pem"
        if self.alert_certificate_file is None and self.tls_cert.is_file():
            self.alert_certificate_file = self.tls_cert
        return self

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        sources: list[PydanticBaseSettingsSource] = [init_settings, env_settings]
        config_file = _config_file(init_settings())
        if config_file is not None:
            sources.append(TomlConfigSettingsSource(settings_cls, toml_file=config_file))
        return tuple(sources)

    @property
    def dicom_processes(self) -> int:
        return self.dicom_workers or os.cpu_count() or 1

    @property
    def storage_dir(self) -> Path:
        return self.storage_path or self.data_dir / "storage"

    @property
    def effective_database_url(self) -> str:
        if self.database_url:
            return self.database_url
        return f"sqlite:///{(self.data_dir / 'core.db').resolve()}"


def _config_file(init: dict[str, Any]) -> Path | None:
    path = init.get("config") or os.environ.get("CORE_CONFIG")
    return Path(path) if path else None
