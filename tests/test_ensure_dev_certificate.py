"""manage.py ensure_dev_certificate, and the deploy check that warns while it is in use."""

import datetime
from io import StringIO

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID
from django.core.management import call_command
from django.core.management.base import CommandError, SystemCheckError

from consent.checks import sealing_certificate
from consent.pki import DEV_MARK, PkiPaths, is_dev_certificate


@pytest.fixture
def pki_dir(tmp_path, settings):
    """Point the sealing settings at an empty folder, laid out as the development CA is."""
    paths = PkiPaths.in_dir(tmp_path / "dev-pki")
    settings.PDF_SIGNING_CERT = paths.signer_cert
    settings.PDF_SIGNING_KEY = paths.signer_key
    return paths


def run(verbosity=1) -> str:
    out = StringIO()
    call_command("ensure_dev_certificate", stdout=out, verbosity=verbosity)
    return out.getvalue()


def public_key_bytes(key) -> bytes:
    return key.public_bytes(
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
    )


class TestEnsureDevCertificate:
    def test_it_creates_a_working_development_ca_with_debug_on(self, pki_dir, settings):
        settings.DEBUG = True
        settings.HOSPITAL_NAME = "St Elsewhere"
        out = run()
        assert "Created a DEVELOPMENT ONLY certificate authority" in out
        assert pki_dir.exist()
        ca = x509.load_pem_x509_certificate(pki_dir.ca_cert.read_bytes())
        cert = x509.load_pem_x509_certificate(pki_dir.signer_cert.read_bytes())
        key = serialization.load_pem_private_key(pki_dir.signer_key.read_bytes(), password=None)
        assert public_key_bytes(key.public_key()) == public_key_bytes(cert.public_key())
        cert.verify_directly_issued_by(ca)  # raises if the CA did not sign it
        assert is_dev_certificate(pki_dir.signer_cert)
        assert "St Elsewhere" in cert.subject.rfc4514_string()
        assert pki_dir.signer_key.stat().st_mode & 0o077 == 0  # the key is private

    def test_it_leaves_an_existing_certificate_alone(self, pki_dir, settings):
        settings.DEBUG = True
        run()
        before = pki_dir.signer_key.read_bytes()
        assert run() == ""
        assert "Sealing certificate in place" in run(verbosity=2)
        assert pki_dir.signer_key.read_bytes() == before

    def test_it_refuses_with_debug_off(self, pki_dir, settings):
        settings.DEBUG = False
        with pytest.raises(CommandError, match="DEBUG is off"):
            run()
        assert not pki_dir.signer_cert.exists()

    def test_it_refuses_when_a_configured_certificate_is_missing(self, tmp_path, settings):
        settings.DEBUG = True
        settings.PDF_SIGNING_CERT = tmp_path / "hospital" / "seal.pem"
        settings.PDF_SIGNING_KEY = tmp_path / "hospital" / "seal.key"
        with pytest.raises(CommandError, match="is set but missing"):
            run()
        assert not (tmp_path / "hospital").exists()


def hospital_certificate(tmp_path):
    """A certificate and key such as a hospital would configure (not the development CA)."""
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "St Elsewhere consent seal")])
    now = datetime.datetime.now(datetime.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now)
        .not_valid_after(now + datetime.timedelta(days=30))
        .sign(key, hashes.SHA256())
    )
    cert_path, key_path = tmp_path / "seal.pem", tmp_path / "seal.key"
    cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    return cert_path, key_path


class TestDeployCheck:
    def test_a_missing_certificate_is_an_error(self, pki_dir):
        assert [m.id for m in sealing_certificate(None)] == ["consent.E001"]

    def test_the_development_certificate_is_a_warning(self, pki_dir, settings):
        settings.DEBUG = True
        run()
        messages = sealing_certificate(None)
        assert [m.id for m in messages] == ["consent.W001"]
        assert DEV_MARK in messages[0].msg

    def test_a_hospital_certificate_passes(self, tmp_path, settings):
        settings.PDF_SIGNING_CERT, settings.PDF_SIGNING_KEY = hospital_certificate(tmp_path)
        assert sealing_certificate(None) == []

    def test_check_deploy_runs_it(self, pki_dir):
        out = StringIO()
        with pytest.raises(SystemCheckError, match=r"consent\.E001"):
            call_command("check", "--deploy", stdout=out, stderr=out)
