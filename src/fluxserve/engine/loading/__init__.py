"""Getting pipelines into memory: where weights come from, loading with the operator's options,
sharing modules within a family, residency under a memory budget, pulling hub weights."""
