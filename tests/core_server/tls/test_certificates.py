"""``core-server tls init|show|renew``: the appliance CA, key modes, the chain openssl
verifies, renewal when due (and loaded into a live context), and the settings' defaults."""

from __future__ import annotations

import ssl
import stat
import subprocess
from datetime import timedelta
from pathlib import Path

import pytest

from core_server import clock
from core_server.cli import main
from core_server.settings import Settings
from core_server.tls import Files, TlsError, certificates, files_of, listener_context
from core_server.tls.renewal import Renewal


def test_init_show_renew_by_the_command(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    data = str(tmp_path)
    assert main(["tls", "init", "--data-dir", data, "pacs.example.cn", "10.0.0.5"]) == 0
    files = files_of(Settings(data_dir=tmp_path))
    for key in (files.key, files.ca_key):
        assert stat.S_IMODE(key.stat().st_mode) == 0o600
    verified = subprocess.run(
        ["openssl", "verify", "-CAfile", str(files.ca), str(files.cert)],
        capture_output=True,
        text=True,
    )
    assert verified.returncode == 0, verified.stderr
    assert certificates.names_of(files.cert) == ["pacs.example.cn", "10.0.0.5"]
    assert main(["tls", "init", "--data-dir", data]) == 2  # never overwritten by accident
    before = certificates.summary(files.cert).fingerprint
    assert main(["tls", "renew", "--data-dir", data]) == 0
    after = certificates.summary(files.cert)
    assert after.fingerprint != before and after.names == ["pacs.example.cn", "10.0.0.5"]
    capsys.readouterr()
    assert main(["tls", "show", "--data-dir", data]) == 0
    shown = capsys.readouterr().out
    assert "names: pacs.example.cn, 10.0.0.5" in shown and "appliance CA key: yes" in shown


def test_a_due_certificate_is_renewed_and_loaded(tmp_path: Path) -> None:
    files = Files(tmp_path / "server.pem", tmp_path / "server.key", tmp_path / "ca.pem")
    certificates.init(files, ["localhost"])
    certificates.issue(files, ["localhost"], days=10)  # expires within the 30 days
    renewal = Renewal(files, timedelta(days=30))
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    renewal.contexts.append(context)
    assert renewal.check()
    assert certificates.summary(files.cert).not_after > clock.now() + timedelta(days=300)
    assert not renewal.check()  # not due any more


def test_a_hospital_certificate_is_not_renewed_here(tmp_path: Path) -> None:
    ours = Files(
        tmp_path / "a" / "server.pem", tmp_path / "a" / "server.key", tmp_path / "a" / "ca.pem"
    )
    certificates.init(ours, ["localhost"])
    hospital = Files(ours.cert, ours.key, tmp_path / "hospital-ca.pem")  # no CA key beside it
    hospital.ca.write_bytes(ours.ca.read_bytes())
    assert not hospital.ours
    with pytest.raises(TlsError, match="not from the appliance CA"):
        certificates.renew(hospital)
    assert not Renewal(hospital, timedelta(days=400)).check()


def test_settings_defaults_and_cleartext_off_without_a_certificate(tmp_path: Path) -> None:
    settings = Settings(data_dir=tmp_path)
    assert settings.tls_cert == tmp_path / "tls" / "server.pem"
    assert (settings.https_port, settings.dicom_tls_port, settings.hl7_tls_port) == (
        8443,
        2762,
        2576,
    )
    assert settings.cleartext and listener_context(settings, "dicom") is None
    with pytest.raises(TlsError, match="tls init"):
        listener_context(Settings(data_dir=tmp_path, cleartext=False), "https")
