"""Jobs: records, the transactional job store, the webhook outbox, and wire views."""
