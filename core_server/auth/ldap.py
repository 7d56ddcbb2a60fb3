"""Sign-in against the hospital's directory (OpenLDAP or Active Directory, through ldap3).

How a directory user signs in (``authenticate``):

1. The user's entry is found: Active Directory with ``ldap_upn_suffix`` binds as
   ``<user>@<suffix>`` with the typed password and searches its own entry; otherwise the
   service account (``ldap_bind_dn``, or anonymously) searches ``ldap_user_base`` with
   ``ldap_user_filter`` and the user's DN is bound with the typed password.
2. The role: the first ``ldap_group_roles`` entry (in the order written) whose group lists
   the user as ``member`` (groupOfNames, AD groups); with ``ldap_nested_groups`` (AD only)
   membership through nested groups counts, via LDAP_MATCHING_RULE_IN_CHAIN. A user in no
   mapped group cannot sign in.
3. The name: ``ldap_display_name_attribute`` (``displayName``, Chinese), else ``cn``.

Servers in ``ldap_urls`` are tried in turn; when none answers the sign-in fails with
:class:`DirectoryDown` (503), which is not a wrong password and counts toward no lockout.
"""

from __future__ import annotations

import logging
import ssl
from dataclasses import dataclass
from typing import Any

import ldap3
from ldap3.core import exceptions as ldap_errors
from ldap3.utils.conv import escape_filter_chars

from core_server.auth.errors import AuthError, WrongPassword

log = logging.getLogger(__name__)

IN_CHAIN = "1.2.840.113556.1.4.1941"  # AD's LDAP_MATCHING_RULE_IN_CHAIN


class DirectoryDown(AuthError):
    status = 503

    def __init__(self) -> None:
        super().__init__("auth.ldap.down")


class NoRole(AuthError):
    """Right password, but the user is in none of the groups mapped to a role."""

    status = 403

    def __init__(self) -> None:
        super().__init__("auth.ldap.no_role")


@dataclass(frozen=True)
class DirectoryUser:
    username: str
    dn: str
    display_name: str
    role: str


@dataclass(frozen=True)
class DirectoryConfig:
    urls: tuple[str, ...]
    start_tls: bool = False
    ca_file: str | None = None
    bind_dn: str = ""
    bind_password: str = ""
    upn_suffix: str = ""
    user_base: str = ""
    user_filter: str = "(uid={username})"
    display_name_attribute: str = "displayName"
    group_base: str = ""
    group_roles: tuple[tuple[str, str], ...] = ()
    nested_groups: bool = False
    timeout: float = 5.0

    @classmethod
    def from_settings(cls, settings: Any) -> DirectoryConfig | None:
        """The configured directory, or None when ``ldap_urls`` is empty."""
        urls = tuple(u.strip() for u in getattr(settings, "ldap_urls", "").split(",") if u.strip())
        if not urls:
            return None
        ca = settings.ldap_ca_file
        return cls(
            urls=urls,
            start_tls=settings.ldap_start_tls,
            ca_file=str(ca) if ca else None,
            bind_dn=settings.ldap_bind_dn,
            bind_password=settings.ldap_bind_password,
            upn_suffix=settings.ldap_upn_suffix,
            user_base=settings.ldap_user_base,
            user_filter=settings.ldap_user_filter,
            display_name_attribute=settings.ldap_display_name_attribute,
            group_base=settings.ldap_group_base or settings.ldap_user_base,
            group_roles=tuple(settings.ldap_group_roles.items()),
            nested_groups=settings.ldap_nested_groups,
            timeout=settings.ldap_timeout,
        )


def authenticate(config: DirectoryConfig, username: str, password: str) -> DirectoryUser:
    """The directory's answer for this name and password (raises ``WrongPassword``,
    :class:`NoRole` or :class:`DirectoryDown`)."""
    if not password or not username or len(username) > 64:
        raise WrongPassword  # an empty password would be an anonymous bind: "success"
    last: Exception | None = None
    for url in config.urls:
        try:
            return _authenticate_at(config, url, username, password)
        except (ldap_errors.LDAPSocketOpenError, ldap_errors.LDAPSocketReceiveError,
                ldap_errors.LDAPSessionTerminatedByServerError, ldap_errors.LDAPStartTLSError,
                ldap_errors.LDAPSocketSendError, ssl.SSLError) as exc:  # fmt: skip
            log.warning("directory %s did not answer: %s", url, exc)
            last = exc
    raise DirectoryDown from last


def _server(config: DirectoryConfig, url: str) -> ldap3.Server:
    tls = ldap3.Tls(
        validate=ssl.CERT_REQUIRED,
        ca_certs_file=config.ca_file,
        version=ssl.PROTOCOL_TLS_CLIENT,
    )
    return ldap3.Server(url, connect_timeout=config.timeout, tls=tls, get_info=ldap3.NONE)


def _connection(config: DirectoryConfig, server: ldap3.Server, who: str, secret: str) -> Any:
    """An open, bound connection (``None`` when the directory refused the credentials)."""
    conn = ldap3.Connection(
        server,
        user=who or None,
        password=secret or None,
        receive_timeout=max(1, round(config.timeout)),  # ldap3 packs it as an integer
        raise_exceptions=False,
        auto_referrals=False,
    )
    conn.open()
    if config.start_tls and not server.ssl:
        conn.start_tls()
    if not conn.bind():
        conn.unbind()
        return None
    return conn


def _authenticate_at(
    config: DirectoryConfig, url: str, username: str, password: str
) -> DirectoryUser:
    server = _server(config, url)
    name = escape_filter_chars(username)
    search = config.user_filter.format(username=name)
    if config.upn_suffix:
        conn = _connection(config, server, f"{username}@{config.upn_suffix}", password)
        if conn is None:
            raise WrongPassword
        try:
            dn, attributes = _find(conn, config, search, username)
        finally:
            conn.unbind()
    else:
        conn = _connection(config, server, config.bind_dn, config.bind_password)
        if conn is None:
            log.error("the directory refused the service account %s", config.bind_dn)
            raise DirectoryDown
        try:
            dn, attributes = _find(conn, config, search, username)
        finally:
            conn.unbind()
        user_conn = _connection(config, server, dn, password)
        if user_conn is None:
            raise WrongPassword
        user_conn.unbind()
    # Groups are read by the service account, or in AD by the user's own bind.
    if config.upn_suffix:
        conn = _connection(config, server, f"{username}@{config.upn_suffix}", password)
    else:
        conn = _connection(config, server, config.bind_dn, config.bind_password)
    if conn is None:
        raise DirectoryDown
    try:
        role = _role(conn, config, dn)
    finally:
        conn.unbind()
    display = _first(attributes, config.display_name_attribute) or _first(attributes, "cn")
    return DirectoryUser(username=username, dn=dn, display_name=display[:128], role=role)


def _find(conn: Any, config: DirectoryConfig, search: str, username: str) -> tuple[str, dict]:
    attributes = [config.display_name_attribute, "cn"]
    conn.search(config.user_base, search, ldap3.SUBTREE, attributes=attributes, size_limit=2)
    entries = [e for e in conn.response or [] if e.get("type") == "searchResEntry"]
    if len(entries) != 1:  # none, or an ambiguous filter: never guess which person
        log.info("directory: %d entries for %r", len(entries), username)
        raise WrongPassword
    return entries[0]["dn"], dict(entries[0].get("attributes", {}))


def _role(conn: Any, config: DirectoryConfig, dn: str) -> str:
    member = escape_filter_chars(dn)
    rule = f":{IN_CHAIN}:" if config.nested_groups else ""
    conn.search(config.group_base, f"(member{rule}={member})", ldap3.SUBTREE, attributes=[])
    groups = {e["dn"].lower() for e in conn.response or [] if e.get("type") == "searchResEntry"}
    for role, group in config.group_roles:
        if group.strip().lower() in groups:
            return role
    raise NoRole


def _first(attributes: dict, name: str) -> str:
    value = attributes.get(name)
    if isinstance(value, list):
        value = value[0] if value else ""
    return str(value or "")
