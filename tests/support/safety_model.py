"""Tiny image-classification models for the image safety checker: random ViT weights and
chosen labels; with `bias`, the head ignores the image and its logits are exactly `bias`, so
the scores are known in advance."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Literal

LABELS = ("normal", "nsfw")


def save_vit_classifier(
    folder: Path,
    labels: Sequence[str],
    bias: Sequence[float] | None = None,
    problem_type: Literal["multi_label_classification"] | None = None,
) -> Path:
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
        id2label=dict(enumerate(labels)),
        label2id={label: i for i, label in enumerate(labels)},
        problem_type=problem_type,
    )
    torch.manual_seed(0)
    model = ViTForImageClassification(config)
    head = model.classifier
    assert isinstance(head, torch.nn.Linear)
    if bias is not None:
        with torch.no_grad():
            head.weight.zero_()
            head.bias.copy_(torch.tensor(list(bias)))
    folder.mkdir(parents=True, exist_ok=True)
    model.save_pretrained(folder)
    ViTImageProcessorPil(size={"height": 32, "width": 32}).save_pretrained(folder)
    return folder


def save_always_nsfw_classifier(folder: Path) -> Path:
    """A classifier whose softmax puts ~1.0 on "nsfw" for any image."""
    return save_vit_classifier(folder, LABELS, bias=(-10.0, 10.0))
