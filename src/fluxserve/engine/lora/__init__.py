"""Serving LoRAs on resident pipelines: peft adapters, or hot-swapped slots when compiled."""
