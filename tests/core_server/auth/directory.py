"""A real OpenLDAP server (Debian's slapd) for the sign-in tests: its own temporary folder, a
generated slapd.conf (mdb back end), people and one group per role loaded with slapadd, on a
free loopback port."""

from __future__ import annotations

import base64
import shutil
import socket
import subprocess
import time
from pathlib import Path
from typing import Any

SUFFIX = "dc=hospital,dc=cn"
ROOT_DN = f"cn=admin,{SUFFIX}"
ROOT_PASSWORD = "root-secret"
SERVICE_DN = f"cn=pacs-search,{SUFFIX}"
SERVICE_PASSWORD = "search-secret"
PEOPLE = f"ou=people,{SUFFIX}"
GROUPS = f"ou=groups,{SUFFIX}"
# group cn -> role, and who is in it
GROUP_ROLES = {
    "pacs-admins": "admin",
    "pacs-radiologists": "reporting_doctor",
    "pacs-reviewers": "reviewing_doctor",
    "pacs-registrars": "registrar",
    "pacs-technicians": "technician",
    "pacs-heads": "department_head",
    "pacs-clinicians": "clinician",
}
# uid -> (Chinese name, password, groups)
PEOPLE_ROWS = {
    "zhangwei": ("张伟", "Dir-pass-1", ["pacs-radiologists"]),
    "lina": ("李娜", "Dir-pass-2", ["pacs-registrars", "pacs-clinicians"]),
    "wangfang": ("王芳", "Dir-pass-3", ["pacs-heads", "pacs-radiologists"]),
    "nogroup": ("赵磊", "Dir-pass-4", []),
}


def _b64(text: str) -> str:
    return base64.b64encode(text.encode()).decode()


def ldif() -> str:
    parts = [
        f"dn: {SUFFIX}\nobjectClass: dcObject\nobjectClass: organization\n"
        "o: Hospital\ndc: hospital\n",
        f"dn: {PEOPLE}\nobjectClass: organizationalUnit\nou: people\n",
        f"dn: {GROUPS}\nobjectClass: organizationalUnit\nou: groups\n",
        f"dn: {SERVICE_DN}\nobjectClass: organizationalRole\nobjectClass: simpleSecurityObject\n"
        f"cn: pacs-search\nuserPassword: {SERVICE_PASSWORD}\n",
    ]
    for uid, (name, password, _groups) in PEOPLE_ROWS.items():
        parts.append(
            f"dn: uid={uid},{PEOPLE}\nobjectClass: inetOrgPerson\nuid: {uid}\n"
            f"cn:: {_b64(name)}\nsn:: {_b64(name[0])}\ndisplayName:: {_b64(name)}\n"
            f"userPassword: {password}\n"
        )
    for group in GROUP_ROLES:
        members = [f"uid={u},{PEOPLE}" for u, row in PEOPLE_ROWS.items() if group in row[2]]
        members = members or [ROOT_DN]  # groupOfNames needs a member
        lines = "".join(f"member: {m}\n" for m in members)
        parts.append(f"dn: cn={group},{GROUPS}\nobjectClass: groupOfNames\ncn: {group}\n{lines}")
    return "\n".join(parts)


def _conf(folder: Path) -> str:
    schema = "/etc/ldap/schema"
    return f"""
include {schema}/core.schema
include {schema}/cosine.schema
include {schema}/inetorgperson.schema
modulepath /usr/lib/ldap
moduleload back_mdb
pidfile {folder}/slapd.pid
access to attrs=userPassword by anonymous auth by * none
access to * by users read by * none
database mdb
suffix "{SUFFIX}"
rootdn "{ROOT_DN}"
rootpw {ROOT_PASSWORD}
directory {folder}/db
maxsize 10485760
"""


class Slapd:
    def __init__(self, folder: Path) -> None:
        self.folder = folder
        (folder / "db").mkdir(parents=True)
        (folder / "slapd.conf").write_text(_conf(folder))
        (folder / "data.ldif").write_text(ldif(), encoding="utf-8")
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            self.port = int(s.getsockname()[1])
        self.url = f"ldap://127.0.0.1:{self.port}"
        self._process: subprocess.Popen[bytes] | None = None

    def start(self) -> Slapd:
        conf = str(self.folder / "slapd.conf")
        subprocess.run(
            ["slapadd", "-f", conf, "-l", str(self.folder / "data.ldif")],
            check=True,
            capture_output=True,
        )
        # -d 0: stay in the foreground (so the test owns the process), log nothing.
        self._process = subprocess.Popen(
            ["slapd", "-f", conf, "-h", f"ldap://127.0.0.1:{self.port}/", "-d", "0"],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
        )
        deadline = time.monotonic() + 15
        while time.monotonic() < deadline:
            if self._process.poll() is not None:
                raise RuntimeError(self._process.stderr.read().decode())  # type: ignore[union-attr]
            try:
                socket.create_connection(("127.0.0.1", self.port), timeout=0.2).close()
                return self
            except OSError:
                time.sleep(0.05)
        raise RuntimeError("slapd did not come up")

    def stop(self) -> None:
        if self._process is not None:
            self._process.terminate()
            self._process.wait(timeout=10)
            self._process = None


def available() -> bool:
    return bool(shutil.which("slapd") and shutil.which("slapadd"))


def settings(url: str) -> dict[str, Any]:
    """The core's options for this directory."""
    return {
        "ldap_urls": url,
        "ldap_bind_dn": SERVICE_DN,
        "ldap_bind_password": SERVICE_PASSWORD,
        "ldap_user_base": PEOPLE,
        "ldap_group_base": GROUPS,
        "ldap_group_roles": {role: f"cn={g},{GROUPS}" for g, role in GROUP_ROLES.items()},
    }
