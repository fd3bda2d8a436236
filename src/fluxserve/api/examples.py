"""The hosted API reference's own example request bodies, attached to the spec routes' bodies
in `/openapi.json` (and so shown in `/docs`), keyed by endpoint name (see `fluxserve.catalog`)."""

from __future__ import annotations

from typing import Any

_R2 = "https://pub-582b7213209642b9b995c96c95a30381.r2.dev"
_SCHNELL_CAR = (
    "Picture a sleek, futuristic car racing through a neon-lit cityscape, its engine humming "
    "efficiently as it blurs past digital billboards. The driver skillfully navigates the "
    "glowing streets, aiming for victory in this high-tech, adrenaline-fueled race of tomorrow."
)
_FLUX1_TEXT = {
    "prompt": "A futuristic cityscape at sunset with flying cars",
    "image_size": "landscape_4_3",
}

SPEC_EXAMPLES: dict[str, dict[str, Any]] = {
    "flux2_pro_image_to_image": {
        "prompt": "Place realistic flames emerging from the top of the coffee cup, dancing "
        "above the rim",
        "image_size": "auto",
        "safety_tolerance": "2",
        "enable_safety_checker": True,
        "output_format": "jpeg",
        "image_urls": [
            f"{_R2}/nano-banana/nano-banana-a382a80b-f8df-4de1-a0c1-a5dcfd42dae4-1758783383399.jpg"
        ],
    },
    "flux2_pro_text_to_image": {
        "prompt": "An intense close-up of knight's visor reflecting battle, sword raised, flames "
        "in background, chiaroscuro helmet shadows, hyper-detailed armor, square medieval, "
        "cinematic lighting",
        "image_size": "landscape_4_3",
        "safety_tolerance": 2,
        "enable_safety_checker": True,
        "output_format": "jpeg",
    },
    "kontext_restore": {
        "input_image": f"{_R2}/input_model.png",
        "seed": 42,
        "output_format": "png",
        "safety_tolerance": 2,
        "webhook": "https://your-server.com/webhooks/flux-kontext-restore-image",
        "webhook_events_filter": ["completed", "failed"],
    },
    "ultra_generate": {
        "prompt": "A futuristic cityscape at sunset",
        "seed": 43,
        "output_format": "jpeg",
        "aspect_ratio": "16:9",
    },
    "flux_pro_text_to_image": _FLUX1_TEXT,
    "flux_dev_text_to_image": _FLUX1_TEXT,
    "flux_dev_image_to_image": {
        "image_url": f"{_R2}/model.png",
        "prompt": "Editorial rooftop shot, woman in peach tee and denim, modern urban backdrop, "
        "bold blue tones, polished aesthetic.",
    },
    "fill_generate": {
        "prompt": "a futuristic spaceship with neon lights",
        "image": "https://example.com/photo.png",
        "mask": "https://example.com/mask.png",
        "seed": 42,
        "guidance": 35,
        "num_outputs": 2,
        "num_inference_steps": 35,
        "output_format": "png",
        "output_quality": 95,
    },
    "klein_generate": {
        "prompt": "A sunset with a dog playing on the beach, golden light reflecting on the "
        "water, photorealistic, highly detailed",
        "steps": 25,
        "width": 1024,
        "height": 1024,
    },
    "flux2_dev_generate": {
        "prompt": "a sunset at the alps",
        "steps": 25,
        "width": 1024,
        "height": 1024,
    },
    "schnell_generate": {
        "prompt": _SCHNELL_CAR,
        "num_steps": 4,
        "seed": 15,
        "height": 512,
        "width": 512,
    },
    "schnell_batch": {
        "prompt": "Picture a handsome man dancing",
        "num_steps": 4,
        "seed": 15,
        "height": 512,
        "width": 512,
        "webhook_url": "https://your-domain.com/webhook",
    },
    "schnell_check_status": {"requestId": "18a36237-f8b2-4c8d-9a3b-d5e8a9f12c45"},
    "flux2_image_trainer": {
        "image_data_url": "https://example.com/images/reference_style.jpg",
        "steps": 1200,
        "learning_rate": 0.00007,
    },
    "flux2_dataset_trainer": {
        "image_data_url": "https://example.com/dataset.zip",
        "steps": 1500,
        "learning_rate": 0.00003,
    },
}


def request_examples(name: str) -> dict[str, Any] | None:
    """`openapi_extra` attaching endpoint `name`'s example body, or None when it has none."""
    example = SPEC_EXAMPLES.get(name)
    if example is None:
        return None
    examples = {"spec": {"summary": "The hosted API reference's example", "value": example}}
    return {"requestBody": {"content": {"application/json": {"examples": examples}}}}
