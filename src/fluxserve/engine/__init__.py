"""The only code that imports torch and diffusers, in rooms: `boundary/` (what crosses the
worker/engine process boundary), `inference/`, `loading/`, `lora/`, `training/`, `demo/` (tiny
offline weights). Shared by several rooms: `pipelines.py`, `decode.py` and `devices.py`."""
