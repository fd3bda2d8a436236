"""LoRA training on a FLUX.2 transformer: examples, the trainable adapter, the loop, checkpoints."""
