"""Which certificate chain and key sign the outputs: the operator's (file paths or PEM text,
from the config file or FLUXSERVE_C2PA_* variables) or the self-made local signer."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from cryptography.x509.oid import NameOID

from fluxserve.errors import SigningFailure
from fluxserve.provenance.local_ca import ensure_local_signer
from fluxserve.settings import ProvenanceConfig

LOCAL_SIGNER_DIR = "provenance"
_PEM_START = "-----BEGIN"
_EC_ALGORITHMS = {"secp256r1": "es256", "secp384r1": "es384"}


@dataclass(frozen=True)
class SigningCredentials:
    chain_pem: bytes
    key_pem: bytes
    algorithm: str  # c2pa's name: es256, es384 or ps256
    self_made: bool
    subject: str
    issuer: str
    not_after: str


def _pem_or_file(value: str, what: str) -> bytes:
    if value.lstrip().startswith(_PEM_START):
        return value.encode()
    path = Path(value).expanduser()
    try:
        return path.read_bytes()
    except OSError as exc:
        raise SigningFailure(f"provenance.{what}: cannot read {path}: {exc.strerror}") from None


def _common_name(name: x509.Name) -> str:
    for oid in (NameOID.COMMON_NAME, NameOID.ORGANIZATION_NAME):
        found = name.get_attributes_for_oid(oid)
        if found:
            return str(found[0].value)
    return name.rfc4514_string()


def _algorithm(key: object, what: str) -> str:
    if isinstance(key, ec.EllipticCurvePrivateKey) and key.curve.name in _EC_ALGORITHMS:
        return _EC_ALGORITHMS[key.curve.name]
    if isinstance(key, rsa.RSAPrivateKey):
        return "ps256"
    raise SigningFailure(f"{what}: the key must be EC P-256/P-384 (ES256/ES384) or RSA (PS256)")


def credentials_from_pem(
    chain_pem: bytes, key_pem: bytes, *, self_made: bool, what: str = "provenance"
) -> SigningCredentials:
    """Checked credentials: a parsable chain, an unencrypted key, and the key is the signer's."""
    try:
        chain = x509.load_pem_x509_certificates(chain_pem)
        key = serialization.load_pem_private_key(key_pem, password=None)
    except (ValueError, TypeError) as exc:
        raise SigningFailure(f"{what}: unreadable certificate chain or key: {exc}") from None
    public = serialization.PublicFormat.SubjectPublicKeyInfo
    der = serialization.Encoding.DER
    if chain[0].public_key().public_bytes(der, public) != key.public_key().public_bytes(
        der, public
    ):
        raise SigningFailure(f"{what}: the private key does not belong to the first certificate")
    leaf = chain[0]
    # c2pa reads PKCS#8 best; SEC1 and PKCS#1 keys are rewritten to it.
    pkcs8 = key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )
    return SigningCredentials(
        chain_pem=chain_pem,
        key_pem=pkcs8,
        algorithm=_algorithm(key, what),
        self_made=self_made,
        subject=_common_name(leaf.subject),
        issuer=_common_name(leaf.issuer),
        not_after=leaf.not_valid_after_utc.isoformat(),
    )


def load_credentials(config: ProvenanceConfig, data_dir: Path) -> SigningCredentials:
    """The operator's chain and key when configured, else the self-made local signer."""
    if config.cert_chain is not None and config.private_key is not None:
        return credentials_from_pem(
            _pem_or_file(config.cert_chain, "cert_chain"),
            _pem_or_file(config.private_key.get_secret_value(), "private_key"),
            self_made=False,
        )
    try:
        local = ensure_local_signer(data_dir / LOCAL_SIGNER_DIR)
    except (OSError, ValueError) as exc:
        raise SigningFailure(f"cannot make the local signing credentials: {exc}") from None
    return credentials_from_pem(local.chain_pem, local.key_pem, self_made=True)
