"""A tiny image-classification model for the image safety checker: random ViT weights, labels
["normal", "nsfw"], and a head whose bias makes "nsfw" win on every image."""

from __future__ import annotations

from pathlib import Path

LABELS = ("normal", "nsfw")


def save_always_nsfw_classifier(folder: Path) -> Path:
    """Save the model (and its image processor) into `folder`; returns `folder`."""
    import torch
    from transformers import ViTConfig, ViTForImageClassification, ViTImageProcessorPil

    config = ViTConfig(
        image_size=32,
        patch_size=8,
        num_channels=3,
        hidden_size=32,
        num_hidden_layers=1,
        num_attention_heads=2,
        intermediate_size=37,
        id2label=dict(enumerate(LABELS)),
        label2id={label: i for i, label in enumerate(LABELS)},
    )
    torch.manual_seed(0)
    model = ViTForImageClassification(config)
    head = model.classifier
    assert isinstance(head, torch.nn.Linear)
    with torch.no_grad():
        # The logits ignore the image: softmax puts ~1.0 on "nsfw" for anything.
        head.weight.zero_()
        head.bias.copy_(torch.tensor([-10.0, 10.0]))
    folder.mkdir(parents=True, exist_ok=True)
    model.save_pretrained(folder)
    ViTImageProcessorPil(size={"height": 32, "width": 32}).save_pretrained(folder)
    return folder
