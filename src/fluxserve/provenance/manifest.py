"""The manifest definition fluxserve signs into each output (c2pa-rs's JSON shape).

A text-to-image output is `c2pa.created`; an output made from an input image is that input
`c2pa.opened` as the parent ingredient, then `c2pa.edited` (the C2PA spec forbids a parent
under `c2pa.created`). Either way the generating action names the IPTC source type for
AI-generated media, fluxserve as the software agent, and the model facts in `parameters`."""

from __future__ import annotations

from typing import Any

from fluxserve.provenance.facts import OutputFacts

SOFTWARE_NAME = "fluxserve"
IPTC_SOURCE_TYPES = "http://cv.iptc.org/newscodes/digitalsourcetype/"
TRAINED_ALGORITHMIC_MEDIA = IPTC_SOURCE_TYPES + "trainedAlgorithmicMedia"
# Inpainting keeps the unmasked pixels of the input: a composite, in IPTC's terms.
COMPOSITE_WITH_TRAINED = IPTC_SOURCE_TYPES + "compositeWithTrainedAlgorithmicMedia"
GENERATION_KEY = "fluxserve"
"""Key of the model facts inside the generating action's `parameters`."""


def source_type(operation: str) -> str:
    return COMPOSITE_WITH_TRAINED if operation == "fill" else TRAINED_ALGORITHMIC_MEDIA


def generation_parameters(
    facts: OutputFacts, weights: str, *, include_prompt: bool
) -> dict[str, Any]:
    params: dict[str, Any] = {
        "request_id": facts.request_id,
        "model_id": facts.model_id,
        "engine_model": facts.engine_model,
        "weights": weights,
        "operation": facts.operation,
        "loras_applied": facts.lora_count > 0,
        "lora_count": facts.lora_count,
        "output_index": facts.index,
    }
    if include_prompt:
        params["prompt"] = facts.prompt
    return params


def manifest_definition(
    facts: OutputFacts, *, weights: str, version: str, include_prompt: bool, title: str
) -> dict[str, Any]:
    agent = {"name": SOFTWARE_NAME, "version": version}
    action = {
        "action": "c2pa.edited" if facts.parent_png is not None else "c2pa.created",
        "digitalSourceType": source_type(facts.operation),
        "softwareAgent": agent,
        "parameters": {
            GENERATION_KEY: generation_parameters(facts, weights, include_prompt=include_prompt)
        },
    }
    return {
        "claim_generator_info": [agent],
        "title": title,
        "assertions": [{"label": "c2pa.actions.v2", "data": {"actions": [action]}}],
    }


PARENT_INGREDIENT = {"title": "input image", "relationship": "parentOf"}
