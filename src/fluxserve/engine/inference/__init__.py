"""Generation: the in-process `LocalEngine`, batching, per-operation call plans, pipeline calls
and per-call acceleration."""
