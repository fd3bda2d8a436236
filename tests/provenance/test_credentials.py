"""Signing credentials: the self-made local CA and signer, and the operator's own."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from cryptography.x509.oid import ExtendedKeyUsageOID

from fluxserve.errors import SigningFailure
from fluxserve.provenance.credentials import LOCAL_SIGNER_DIR, load_credentials
from fluxserve.provenance.facts import weights_label
from fluxserve.provenance.local_ca import ensure_local_signer, make_ca, make_signer
from fluxserve.provenance.reader import read_credentials
from fluxserve.provenance.setup import open_signer
from fluxserve.provenance.signer import ContentSigner, Signing
from fluxserve.settings import ProvenanceConfig, load_settings
from fluxserve.storage.encode import encode_image
from tests.provenance.conftest import WEIGHTS, facts, picture


def test_the_local_ca_and_signer_have_the_extensions_c2pa_requires(
    signer: ContentSigner, signer_data_dir: Path
) -> None:
    folder = signer_data_dir / LOCAL_SIGNER_DIR
    ca = x509.load_pem_x509_certificate((folder / "ca.pem").read_bytes())
    leaf = x509.load_pem_x509_certificates(signer.credentials.chain_pem)[0]
    assert ca.extensions.get_extension_for_class(x509.BasicConstraints).value.ca is True
    ca.extensions.get_extension_for_class(x509.SubjectKeyIdentifier)
    assert leaf.extensions.get_extension_for_class(x509.KeyUsage).value.digital_signature
    eku = leaf.extensions.get_extension_for_class(x509.ExtendedKeyUsage).value
    assert ExtendedKeyUsageOID.EMAIL_PROTECTION in eku
    leaf.extensions.get_extension_for_class(x509.SubjectKeyIdentifier)
    aki = leaf.extensions.get_extension_for_class(x509.AuthorityKeyIdentifier).value
    ski = ca.extensions.get_extension_for_class(x509.SubjectKeyIdentifier).value
    assert aki.key_identifier == ski.digest
    assert isinstance(leaf.public_key(), ec.EllipticCurvePublicKey)
    assert signer.credentials.self_made and signer.credentials.algorithm == "es256"
    assert (folder / "signer.pem").stat().st_mode & 0o077 == 0


def test_the_local_signer_is_made_once_and_renewed_near_expiry(tmp_path: Path) -> None:
    first = ensure_local_signer(tmp_path)
    assert ensure_local_signer(tmp_path) == first
    later = dt.datetime.now(dt.UTC) + dt.timedelta(days=350)
    renewed = ensure_local_signer(tmp_path, now=later)
    assert renewed.chain_pem != first.chain_pem and renewed.ca_pem == first.ca_pem


def _pem_key(
    key: ec.EllipticCurvePrivateKey | rsa.RSAPrivateKey,
    form: serialization.PrivateFormat = serialization.PrivateFormat.PKCS8,
) -> str:
    pem = key.private_bytes(serialization.Encoding.PEM, form, serialization.NoEncryption())
    return pem.decode()


def test_operator_credentials_come_from_files_or_pem_text(tmp_path: Path) -> None:
    now = dt.datetime.now(dt.UTC)
    ca, ca_key = make_ca(now)
    # An RSA signer (PS256); the self-made default is EC (ES256).
    leaf, key = make_signer(ca, ca_key, now, rsa.generate_private_key(65537, 2048))
    (tmp_path / "chain.pem").write_bytes(leaf.public_bytes(serialization.Encoding.PEM))
    # PKCS#1 ("BEGIN RSA PRIVATE KEY"), as older tools write it.
    pkcs1 = _pem_key(key, serialization.PrivateFormat.TraditionalOpenSSL)
    config = ProvenanceConfig(cert_chain=str(tmp_path / "chain.pem"), private_key=pkcs1)
    signer = open_signer(config, tmp_path, WEIGHTS)
    assert signer is not None and not signer.credentials.self_made
    assert signer.credentials.algorithm == "ps256"
    assert not (tmp_path / LOCAL_SIGNER_DIR).exists()
    encoded = encode_image(picture(), "png", signing=Signing(signer, facts()))
    # Trusting the operator's CA turns Valid into Trusted.
    ca_pem = ca.public_bytes(serialization.Encoding.PEM).decode()
    assert read_credentials(encoded.data, trust_anchors_pem=ca_pem).validation_state == "Trusted"
    assert signer.health()["note"] is None and signer.health()["self_made"] is False


def test_a_key_that_is_not_the_signers_is_refused(tmp_path: Path) -> None:
    local = ensure_local_signer(tmp_path)
    other_pem = _pem_key(ec.generate_private_key(ec.SECP256R1()))
    config = ProvenanceConfig(cert_chain=local.chain_pem.decode(), private_key=other_pem)
    with pytest.raises(SigningFailure, match="does not belong to the first certificate"):
        load_credentials(config, tmp_path)
    missing = ProvenanceConfig(cert_chain=str(tmp_path / "nope.pem"), private_key=other_pem)
    with pytest.raises(SigningFailure, match="cannot read"):
        load_credentials(missing, tmp_path)


def test_credentials_and_options_come_from_the_environment(tmp_path: Path) -> None:
    env = {
        "FLUXSERVE_C2PA_CERT_CHAIN": "/etc/fluxserve/chain.pem",
        "FLUXSERVE_C2PA_PRIVATE_KEY": "/etc/fluxserve/key.pem",
        "FLUXSERVE_C2PA_TIMESTAMP_URL": "http://timestamp.example/tsa",
    }
    settings = load_settings({"data_dir": tmp_path}, environ=env)
    assert settings.provenance.cert_chain == "/etc/fluxserve/chain.pem"
    assert settings.provenance.private_key is not None
    assert settings.provenance.private_key.get_secret_value() == "/etc/fluxserve/key.pem"
    assert settings.provenance.timestamp_url == "http://timestamp.example/tsa"
    with pytest.raises(ValueError, match="go together"):
        ProvenanceConfig(cert_chain="/etc/fluxserve/chain.pem")


def test_turned_off_means_no_signer(tmp_path: Path) -> None:
    assert open_signer(ProvenanceConfig(enabled=False), tmp_path, WEIGHTS) is None
    assert not (tmp_path / LOCAL_SIGNER_DIR).exists()


def test_weights_are_named_never_located() -> None:
    assert weights_label("local", "/srv/models/FLUX.1-dev", None) == "FLUX.1-dev (local folder)"
    assert weights_label("hub", "black-forest-labs/FLUX.1-dev", "abc") == (
        "black-forest-labs/FLUX.1-dev@abc"
    )
    assert "noise" in weights_label("demo", "demo", None)
