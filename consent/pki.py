"""A local certificate authority and PDF-sealing certificate, for development and tests only.

A hospital configures its own certificate and key (PDF_SIGNING_CERT, PDF_SIGNING_KEY) and the
root it chains to (PDF_TRUST_ROOT). Without them, `make run` creates these, clearly marked
DEVELOPMENT ONLY in their names.
"""

import datetime
from dataclasses import dataclass
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

DEV_MARK = "DEVELOPMENT ONLY"


@dataclass(frozen=True)
class PkiPaths:
    ca_cert: Path
    signer_cert: Path
    signer_key: Path

    @classmethod
    def in_dir(cls, directory: Path) -> "PkiPaths":
        return cls(
            ca_cert=directory / "ca.crt",
            signer_cert=directory / "signer.crt",
            signer_key=directory / "signer.key",
        )

    def exist(self) -> bool:
        return self.ca_cert.exists() and self.signer_cert.exists() and self.signer_key.exists()


def _name(common_name: str, organisation: str) -> x509.Name:
    return x509.Name(
        [
            x509.NameAttribute(NameOID.COMMON_NAME, common_name),
            x509.NameAttribute(NameOID.ORGANIZATION_NAME, organisation),
        ]
    )


def create_dev_pki(directory: Path, *, organisation: str) -> PkiPaths:
    """Create a CA and a signing certificate (EC P-256: fast to sign with) in `directory`,
    marked DEVELOPMENT ONLY in their names."""
    return create_pki(directory, organisation=organisation, development=True)


def create_pki(directory: Path, *, organisation: str, development: bool) -> PkiPaths:
    """Create a CA and a signing certificate in `directory`.

    development=False makes certificates shaped like a hospital's own, without the
    DEVELOPMENT ONLY mark: tests use them to see a deployment as the deploy checks would.
    A real hospital's certificate comes from its own CA, never from here.
    """
    directory.mkdir(parents=True, exist_ok=True)
    paths = PkiPaths.in_dir(directory)
    now = datetime.datetime.now(datetime.UTC)
    mark = f" ({DEV_MARK})" if development else ""

    ca_key = ec.generate_private_key(ec.SECP256R1())
    ca_name = _name(f"{organisation} consent CA{mark}", organisation)
    ca_cert = (
        x509.CertificateBuilder()
        .subject_name(ca_name)
        .issuer_name(ca_name)
        .public_key(ca_key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + datetime.timedelta(days=3650))
        .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
        .add_extension(
            x509.KeyUsage(
                digital_signature=False,
                content_commitment=False,
                key_encipherment=False,
                data_encipherment=False,
                key_agreement=False,
                key_cert_sign=True,
                crl_sign=True,
                encipher_only=False,
                decipher_only=False,
            ),
            critical=True,
        )
        .add_extension(
            x509.SubjectKeyIdentifier.from_public_key(ca_key.public_key()), critical=False
        )
        .sign(ca_key, hashes.SHA256())
    )

    key = ec.generate_private_key(ec.SECP256R1())
    cert = (
        x509.CertificateBuilder()
        .subject_name(_name(f"{organisation} consent records{mark}", organisation))
        .issuer_name(ca_name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + datetime.timedelta(days=825))
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(
            x509.KeyUsage(
                digital_signature=True,
                content_commitment=True,  # non-repudiation: what pyHanko expects of a signer
                key_encipherment=False,
                data_encipherment=False,
                key_agreement=False,
                key_cert_sign=False,
                crl_sign=False,
                encipher_only=False,
                decipher_only=False,
            ),
            critical=True,
        )
        .add_extension(
            x509.ExtendedKeyUsage([ExtendedKeyUsageOID.EMAIL_PROTECTION]), critical=False
        )
        .add_extension(
            x509.AuthorityKeyIdentifier.from_issuer_public_key(ca_key.public_key()),
            critical=False,
        )
        .sign(ca_key, hashes.SHA256())
    )

    paths.ca_cert.write_bytes(ca_cert.public_bytes(serialization.Encoding.PEM))
    paths.signer_cert.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    paths.signer_key.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    paths.signer_key.chmod(0o600)
    return paths


def is_dev_certificate(cert_path: Path) -> bool:
    cert = x509.load_pem_x509_certificate(cert_path.read_bytes())
    return DEV_MARK in cert.subject.rfc4514_string()
