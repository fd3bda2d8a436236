"""Making the process's one ContentSigner from Settings, and saying plainly what it is."""

from __future__ import annotations

import logging
from collections.abc import Mapping
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path

from fluxserve.provenance.credentials import load_credentials
from fluxserve.provenance.signer import SELF_MADE_NOTE, ContentSigner, SignerPolicy
from fluxserve.settings import ProvenanceConfig

log = logging.getLogger("fluxserve.provenance")


def fluxserve_version() -> str:
    try:
        return version("fluxserve")
    except PackageNotFoundError:
        return "unknown"


def open_signer(
    config: ProvenanceConfig, data_dir: Path, weights: Mapping[str, str]
) -> ContentSigner | None:
    """The signer for this process, checked by one test signature; None when the operator
    turned content credentials off. Broken credentials raise SigningFailure: better no start
    than a fleet of unsigned images."""
    if not config.enabled:
        log.warning("content credentials are OFF: outputs carry no C2PA manifest")
        return None
    policy = SignerPolicy(
        version=fluxserve_version(),
        weights=dict(weights),
        include_prompt=config.include_prompt,
        required=config.required,
        timestamp_url=config.timestamp_url,
    )
    signer = ContentSigner(load_credentials(config, data_dir), policy)
    signer.self_test()
    c = signer.credentials
    if c.self_made:
        log.warning("content credentials: signing as '%s' — %s", c.subject, SELF_MADE_NOTE)
    else:
        log.info("content credentials: signing as '%s', issued by '%s'", c.subject, c.issuer)
    return signer
