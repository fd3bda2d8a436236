"""The default signing credentials: a local CA and a signer certificate made on first start
in the data folder, with the extensions C2PA's certificate profile asks for. Validators
report them `signingCredential.untrusted`: nobody but this server vouches for them."""

from __future__ import annotations

import datetime as dt
import os
import shutil
import tempfile
from dataclasses import dataclass
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

CA_FILE = "ca.pem"
CA_KEY_FILE = "ca-key.pem"
SIGNER_FILE = "signer.pem"  # key, then the chain (signer first): one file, replaced atomically
CA_DAYS = 3650
SIGNER_DAYS = 365
RENEW_BEFORE = dt.timedelta(days=30)
ORGANIZATION = "fluxserve (self-made, untrusted)"


SignerKey = ec.EllipticCurvePrivateKey | rsa.RSAPrivateKey


@dataclass(frozen=True)
class LocalSigner:
    chain_pem: bytes
    key_pem: bytes
    ca_pem: bytes


def _name(common_name: str) -> x509.Name:
    return x509.Name(
        [
            x509.NameAttribute(NameOID.COMMON_NAME, common_name),
            x509.NameAttribute(NameOID.ORGANIZATION_NAME, ORGANIZATION),
        ]
    )


def _key_usage(*, signer: bool) -> x509.KeyUsage:
    return x509.KeyUsage(
        digital_signature=signer,
        content_commitment=False,
        key_encipherment=False,
        data_encipherment=False,
        key_agreement=False,
        key_cert_sign=not signer,
        crl_sign=not signer,
        encipher_only=False,
        decipher_only=False,
    )


def _pem_key(key: SignerKey) -> bytes:
    return key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )


def _pem(cert: x509.Certificate) -> bytes:
    return cert.public_bytes(serialization.Encoding.PEM)


def make_ca(now: dt.datetime) -> tuple[x509.Certificate, ec.EllipticCurvePrivateKey]:
    key = ec.generate_private_key(ec.SECP256R1())
    name = _name("fluxserve local CA")
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(minutes=5))
        .not_valid_after(now + dt.timedelta(days=CA_DAYS))
        .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
        .add_extension(_key_usage(signer=False), critical=True)
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False)
        .sign(key, hashes.SHA256())
    )
    return cert, key


def make_signer(
    ca: x509.Certificate,
    ca_key: ec.EllipticCurvePrivateKey,
    now: dt.datetime,
    key: SignerKey | None = None,
) -> tuple[x509.Certificate, SignerKey]:
    """A signer certificate for `key` (a new P-256 key when None), issued by `ca`."""
    key = key or ec.generate_private_key(ec.SECP256R1())
    cert = (
        x509.CertificateBuilder()
        .subject_name(_name("fluxserve signer"))
        .issuer_name(ca.subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(minutes=5))
        .not_valid_after(min(now + dt.timedelta(days=SIGNER_DAYS), ca.not_valid_after_utc))
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(_key_usage(signer=True), critical=True)
        # C2PA accepts a short list of EKUs for claim signers; emailProtection is one.
        .add_extension(
            x509.ExtendedKeyUsage([ExtendedKeyUsageOID.EMAIL_PROTECTION]), critical=False
        )
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False)
        .add_extension(
            x509.AuthorityKeyIdentifier.from_issuer_public_key(ca_key.public_key()),
            critical=False,
        )
        .sign(ca_key, hashes.SHA256())
    )
    return cert, key


def _write_private(path: Path, data: bytes) -> None:
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "wb") as handle:
        handle.write(data)


def _signer_bundle(
    ca: x509.Certificate, ca_key: ec.EllipticCurvePrivateKey, now: dt.datetime
) -> bytes:
    cert, key = make_signer(ca, ca_key, now)
    return _pem_key(key) + _pem(cert) + _pem(ca)


def _create(folder: Path, now: dt.datetime) -> None:
    """All three files appear at once (a renamed folder), so a second process starting on the
    same data folder either sees none of them or all of them."""
    folder.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=".provenance-", dir=folder.parent))
    try:
        ca, ca_key = make_ca(now)
        (staging / CA_FILE).write_bytes(_pem(ca))
        _write_private(staging / CA_KEY_FILE, _pem_key(ca_key))
        _write_private(staging / SIGNER_FILE, _signer_bundle(ca, ca_key, now))
        staging.rename(folder)
    except OSError:
        if not (folder / SIGNER_FILE).is_file():
            raise
    finally:
        shutil.rmtree(staging, ignore_errors=True)


def _renew_if_due(folder: Path, now: dt.datetime) -> None:
    chain = x509.load_pem_x509_certificates((folder / SIGNER_FILE).read_bytes())
    if chain[0].not_valid_after_utc - now > RENEW_BEFORE:
        return
    ca = x509.load_pem_x509_certificate((folder / CA_FILE).read_bytes())
    ca_key = serialization.load_pem_private_key((folder / CA_KEY_FILE).read_bytes(), None)
    if not isinstance(ca_key, ec.EllipticCurvePrivateKey):
        raise ValueError(f"{folder / CA_KEY_FILE} is not an EC key")
    if ca.not_valid_after_utc - now <= RENEW_BEFORE:
        ca, ca_key = make_ca(now)
        (folder / CA_FILE).write_bytes(_pem(ca))
        _write_private(folder / CA_KEY_FILE, _pem_key(ca_key))
    staged = folder / (SIGNER_FILE + ".new")
    _write_private(staged, _signer_bundle(ca, ca_key, now))
    staged.replace(folder / SIGNER_FILE)


def ensure_local_signer(folder: Path, now: dt.datetime | None = None) -> LocalSigner:
    """The self-made signer kept in `folder`: made on first call, renewed when it nears expiry."""
    now = now or dt.datetime.now(dt.UTC)
    if not (folder / SIGNER_FILE).is_file():
        _create(folder, now)
    _renew_if_due(folder, now)
    bundle = (folder / SIGNER_FILE).read_bytes()
    marker = b"-----BEGIN CERTIFICATE-----"
    split = bundle.index(marker)
    return LocalSigner(
        chain_pem=bundle[split:], key_pem=bundle[:split], ca_pem=(folder / CA_FILE).read_bytes()
    )
