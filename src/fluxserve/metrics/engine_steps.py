"""Engine step time, as this process observes it: the hook a worker calls per denoising step."""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Histogram

# From a tiny demo model on a CPU (milliseconds) to a large model's step at 4 MP on a GPU.
STEP_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0)


class EngineStepTimes:
    """A histogram of seconds per denoising step, by engine model. Process-local: each worker
    node reports its own (on its metrics port), an API-only node none."""

    def __init__(self, registry: CollectorRegistry) -> None:
        self._histogram = Histogram(
            "fluxserve_engine_step_seconds",
            "Seconds per denoising step, by engine model (a batched step counts once).",
            labelnames=["engine_model"],
            buckets=STEP_BUCKETS,
            registry=registry,
        )

    def observe(self, engine_model: str, seconds: float) -> None:
        """Record one step of `engine_model` that took `seconds`."""
        self._histogram.labels(engine_model=engine_model).observe(max(0.0, seconds))
