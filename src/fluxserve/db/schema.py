"""The tables. Migrations under `migrations/versions/` create exactly this schema (a test
compares them), so a change here needs a new migration."""

from __future__ import annotations

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    CheckConstraint,
    Column,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    String,
    Table,
    Text,
)
from sqlalchemy.dialects.postgresql import JSONB

from fluxserve.db.types import UTCDateTime

NAMING_CONVENTION = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}

metadata = MetaData(naming_convention=NAMING_CONVENTION)

# SQLite only autoincrements an INTEGER PRIMARY KEY, so the 64-bit ids narrow there.
BigId = BigInteger().with_variant(Integer(), "sqlite")
NullableJson = JSON(none_as_null=True).with_variant(JSONB(none_as_null=True), "postgresql")
Json = JSON().with_variant(JSONB(), "postgresql")

JOB_STATES = ("QUEUED", "PROCESSING", "COMPLETED", "FAILED", "ERROR", "CANCELLED")
LEDGER_KINDS = ("topup", "hold", "capture", "release")
OUTBOX_STATUSES = ("pending", "delivered", "failed")


def _one_of(column: str, values: tuple[str, ...]) -> str:
    return f"{column} IN ({', '.join(repr(v) for v in values)})"


api_keys = Table(
    "api_keys",
    metadata,
    Column("id", String(64), primary_key=True),
    Column("name", String(200), nullable=False),
    Column("prefix", String(16), nullable=False),
    Column("key_hash", String(64), nullable=False, unique=True),
    Column("disabled", Boolean, nullable=False),
    Column("is_operator", Boolean, nullable=False),
    Column("created_at", UTCDateTime, nullable=False),
    # Scheduling priority of the key's jobs (jobs/scheduling.py); higher is claimed sooner.
    Column("priority", Integer, nullable=False, server_default="0"),
    # `whsec_` + base64: kept as is, since the server must sign with it (docs/security.md).
    Column("webhook_secret", String(64), nullable=True),
)

wallets = Table(
    "wallets",
    metadata,
    Column("key_id", String(64), ForeignKey("api_keys.id"), primary_key=True),
    Column("balance_micros", BigInteger, nullable=False),
    Column("held_micros", BigInteger, nullable=False),
    Column("updated_at", UTCDateTime, nullable=False),
    CheckConstraint("balance_micros >= 0", name="balance_not_negative"),
    CheckConstraint("held_micros >= 0", name="held_not_negative"),
)

jobs = Table(
    "jobs",
    metadata,
    Column("request_id", String(128), primary_key=True),
    Column("model_id", String(64), nullable=False),
    Column("key_id", String(64), ForeignKey("api_keys.id"), nullable=False, index=True),
    Column("state", String(16), nullable=False),
    Column("spec", Json, nullable=False),
    Column("price_micros", BigInteger, nullable=False),
    # Storage keys of the outputs (URLs are built when answering); jobs finished before
    # migration 0002 hold absolute URLs here.
    Column("output_keys", Json, nullable=False),
    Column("media_type", String(128), nullable=True),
    Column("error", Text, nullable=True),
    Column("progress", NullableJson, nullable=True),
    Column("attempts", Integer, nullable=False),
    Column("created_at", UTCDateTime, nullable=False),
    Column("updated_at", UTCDateTime, nullable=False),
    Column("completed_at", UTCDateTime, nullable=True),
    Column("webhook_url", Text, nullable=True),
    Column("webhook_events", NullableJson, nullable=True),
    Column("webhook_style", String(16), nullable=False),
    Column("alias", String(128), nullable=True, unique=True),
    Column("worker_id", String(128), nullable=True),
    Column("lease_until", UTCDateTime, nullable=True),
    Column("node_id", String(64), nullable=True),
    Column("attempt_id", String(32), nullable=True),
    # Fixed at submit (jobs/scheduling.py): the job's priority, and the rank claims order by.
    Column("priority", Integer, nullable=False, server_default="0"),
    Column("sched_rank", BigInteger, nullable=False, server_default="0"),
    CheckConstraint(_one_of("state", JOB_STATES), name="state_known"),
    CheckConstraint("price_micros >= 0", name="price_not_negative"),
    CheckConstraint(_one_of("webhook_style", ("status", "batch")), name="webhook_style_known"),
    Index("ix_jobs_state_created", "state", "created_at"),
    Index("ix_jobs_model_state_created", "model_id", "state", "created_at"),
    Index("ix_jobs_state_lease", "state", "lease_until"),
    Index("ix_jobs_node_state", "node_id", "state"),
    Index("ix_jobs_state_rank", "state", "sched_rank"),
    Index("ix_jobs_model_state_rank", "model_id", "state", "sched_rank"),
    Index("ix_jobs_key_model_state", "key_id", "model_id", "state"),
    Index("ix_jobs_key_state", "key_id", "state"),  # the active-jobs cap, on every submit
    # The last rank of a key's line (jobs/scheduling.py), on every submit.
    Index("ix_jobs_line_rank", "key_id", "model_id", "priority", "state", "sched_rank"),
)

# Every serving or worker process: its heartbeat says it is alive, and only a stale heartbeat
# (or an expired job lease) lets its jobs run elsewhere.
nodes = Table(
    "nodes",
    metadata,
    Column("id", String(64), primary_key=True),
    Column("kind", String(16), nullable=False),
    Column("host", String(255), nullable=False),
    Column("pid", Integer, nullable=False),
    Column("models", NullableJson, nullable=True),
    Column("started_at", UTCDateTime, nullable=False),
    Column("heartbeat_at", UTCDateTime, nullable=False),
    Column("stopped_at", UTCDateTime, nullable=True),
)

ATTEMPT_OUTCOMES = ("COMPLETED", "FAILED", "ERROR", "LOST", "HANDED_BACK", "CANCELLED")

# One row per claim of a job: who ran it, when, and how that attempt ended.
job_attempts = Table(
    "job_attempts",
    metadata,
    Column("attempt_id", String(32), primary_key=True),
    Column("request_id", String(128), ForeignKey("jobs.request_id"), nullable=False, index=True),
    Column("node_id", String(64), nullable=False),
    Column("worker_id", String(128), nullable=False),
    Column("started_at", UTCDateTime, nullable=False),
    Column("ended_at", UTCDateTime, nullable=True),
    Column("outcome", String(16), nullable=True),
    CheckConstraint(
        "outcome IS NULL OR " + _one_of("outcome", ATTEMPT_OUTCOMES), name="outcome_known"
    ),
)

ledger_entries = Table(
    "ledger_entries",
    metadata,
    Column("id", BigId, primary_key=True, autoincrement=True),
    Column("key_id", String(64), ForeignKey("api_keys.id"), nullable=False, index=True),
    Column("request_id", String(128), ForeignKey("jobs.request_id"), nullable=True, index=True),
    Column("kind", String(16), nullable=False),
    Column("amount_micros", BigInteger, nullable=False),
    Column("balance_after_micros", BigInteger, nullable=False),
    Column("held_after_micros", BigInteger, nullable=False),
    Column("created_at", UTCDateTime, nullable=False),
    Column("note", Text, nullable=True),
    CheckConstraint(_one_of("kind", LEDGER_KINDS), name="kind_known"),
)

webhook_outbox = Table(
    "webhook_outbox",
    metadata,
    Column("id", BigId, primary_key=True, autoincrement=True),
    Column("request_id", String(128), ForeignKey("jobs.request_id"), nullable=False, index=True),
    Column("url", Text, nullable=False),
    Column("event", String(16), nullable=False),
    Column("status", String(16), nullable=False),
    Column("attempts", Integer, nullable=False),
    Column("next_attempt_at", UTCDateTime, nullable=False),
    Column("created_at", UTCDateTime, nullable=False),
    Column("finished_at", UTCDateTime, nullable=True),
    Column("last_status_code", Integer, nullable=True),
    Column("last_error", Text, nullable=True),
    CheckConstraint(_one_of("status", OUTBOX_STATUSES), name="status_known"),
    Index("ix_webhook_outbox_status_next", "status", "next_attempt_at"),
)

# One try of one outbox row: the delivery log a key's owner reads per request.
webhook_attempts = Table(
    "webhook_attempts",
    metadata,
    Column("id", BigId, primary_key=True, autoincrement=True),
    Column("outbox_id", BigId, ForeignKey("webhook_outbox.id"), nullable=False),
    Column("request_id", String(128), ForeignKey("jobs.request_id"), nullable=False, index=True),
    Column("attempted_at", UTCDateTime, nullable=False),
    Column("status_code", Integer, nullable=True),
    Column("error", Text, nullable=True),
)

# A client's Idempotency-Key: the primary key makes two jobs for one key impossible, and the
# row is written in the transaction that creates the job and holds its price.
idempotency_keys = Table(
    "idempotency_keys",
    metadata,
    Column("key_id", String(64), ForeignKey("api_keys.id"), primary_key=True),
    Column("idempotency_key", String(255), primary_key=True),
    Column("fingerprint", String(64), nullable=False),
    Column("request_id", String(128), ForeignKey("jobs.request_id"), nullable=False),
    Column("created_at", UTCDateTime, nullable=False),
    Column("expires_at", UTCDateTime, nullable=False, index=True),
)

MEDIA_KINDS = ("outputs", "inputs")

# What the retention sweeper removed, and when: the status of such a job says its media is
# gone instead of handing out URLs that answer 404.
media_deletions = Table(
    "media_deletions",
    metadata,
    Column("request_id", String(128), ForeignKey("jobs.request_id"), primary_key=True),
    Column("kind", String(16), primary_key=True),
    Column("deleted_at", UTCDateTime, nullable=False),
    CheckConstraint(_one_of("kind", MEDIA_KINDS), name="kind_known"),
)
