"""The webhook outbox: rows written in the same transaction as a job's terminal state, then
delivered (and retried) by a separate deliverer, so a dead receiver never blocks a worker and
a crash never loses a notification."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import Connection, func, insert, literal, select, update

from fluxserve.db.clock import Clock, checked
from fluxserve.db.database import Database
from fluxserve.db.schema import webhook_attempts, webhook_outbox

PENDING = "pending"
DELIVERED = "delivered"
FAILED = "failed"


@dataclass(frozen=True)
class OutboxItem:
    """One webhook to send: POST the job `request_id`'s `event` body to `url`.

    `attempts` counts the tries already recorded (by reschedule, give_up, mark_delivered)."""

    id: int
    request_id: str
    url: str
    event: str
    attempts: int
    next_attempt_at: datetime


@dataclass(frozen=True)
class DeliveryTry:
    """One try of a delivery, as the delivery log shows it."""

    attempted_at: datetime
    status_code: int | None
    error: str | None


@dataclass(frozen=True)
class Delivery:
    """One outbox row with every try made so far."""

    id: int
    url: str
    event: str
    status: str
    created_at: datetime
    finished_at: datetime | None
    next_attempt_at: datetime | None
    tries: list[DeliveryTry]


def enqueue(conn: Connection, *, request_id: str, url: str, event: str, at: datetime) -> int:
    """Add a pending webhook inside the caller's transaction, due at once; its id."""
    return int(
        conn.execute(
            insert(webhook_outbox)
            .values(
                request_id=request_id,
                url=url,
                event=event,
                status=PENDING,
                attempts=0,
                next_attempt_at=at,
                created_at=at,
            )
            .returning(webhook_outbox.c.id)
        ).scalar_one()
    )


class Outbox:
    """Reads and settles outbox rows."""

    def __init__(self, db: Database, clock: Clock | None = None) -> None:
        self._db = db
        self._now = checked(clock)

    def due(
        self, limit: int = 20, now: datetime | None = None, claim_for_s: float | None = None
    ) -> list[OutboxItem]:
        """Pending items whose `next_attempt_at` has come, oldest first.

        With `claim_for_s`, the items are also pushed back that long, so that another
        deliverer polling the same database does not take them meanwhile; a deliverer that
        dies holding them simply lets them fall due again."""
        at = now or self._now()
        with self._db.write() as conn:
            rows = conn.execute(
                select(webhook_outbox)
                .where(webhook_outbox.c.status == PENDING, webhook_outbox.c.next_attempt_at <= at)
                .order_by(webhook_outbox.c.next_attempt_at, webhook_outbox.c.id)
                .limit(limit)
                .with_for_update(skip_locked=True)
            ).all()
            items = [_item(row._mapping) for row in rows]
            if claim_for_s is not None and items:
                conn.execute(
                    update(webhook_outbox)
                    .where(webhook_outbox.c.id.in_([item.id for item in items]))
                    .values(next_attempt_at=at + timedelta(seconds=claim_for_s))
                )
        return items

    def mark_delivered(self, item_id: int, status_code: int) -> None:
        """The receiver accepted the webhook."""
        self._settle(item_id, status=DELIVERED, last_status_code=status_code, finished=True)

    def reschedule(
        self, item_id: int, next_attempt_at: datetime, error: str, status_code: int | None = None
    ) -> None:
        """A try failed; try again at `next_attempt_at`."""
        self._settle(
            item_id,
            next_attempt_at=next_attempt_at,
            last_error=error,
            last_status_code=status_code,
            finished=False,
        )

    def give_up(self, item_id: int, error: str, status_code: int | None = None) -> None:
        """Stop trying; the row stays as a record of the failure."""
        self._settle(
            item_id, status=FAILED, last_error=error, last_status_code=status_code, finished=True
        )

    def replay(self, request_id: str, url: str, event: str) -> int:
        """A new delivery of `request_id`'s `event`, due at once (its owner asked again)."""
        with self._db.write() as conn:
            return enqueue(conn, request_id=request_id, url=url, event=event, at=self._now())

    def deliveries(self, request_id: str) -> list[Delivery]:
        """Every delivery of `request_id`, oldest first, each with its tries."""
        with self._db.read() as conn:
            rows = conn.execute(
                select(webhook_outbox)
                .where(webhook_outbox.c.request_id == request_id)
                .order_by(webhook_outbox.c.id)
            ).all()
            tries = conn.execute(
                select(webhook_attempts)
                .where(webhook_attempts.c.request_id == request_id)
                .order_by(webhook_attempts.c.id)
            ).all()
        by_row: dict[int, list[DeliveryTry]] = {}
        for t in tries:
            by_row.setdefault(t.outbox_id, []).append(
                DeliveryTry(t.attempted_at, t.status_code, t.error)
            )
        return [_delivery(row._mapping, by_row.get(row.id, [])) for row in rows]

    def defer(self, item_ids: list[int], next_attempt_at: datetime) -> None:
        """Hand claimed items back untried, due again at `next_attempt_at` (no attempt
        counted): their receiver's host already has as many deliveries in flight as allowed."""
        if not item_ids:
            return
        with self._db.write() as conn:
            conn.execute(
                update(webhook_outbox)
                .where(webhook_outbox.c.id.in_(item_ids), webhook_outbox.c.status == PENDING)
                .values(next_attempt_at=next_attempt_at)
            )

    def pending_count(self) -> int:
        """How many webhooks still wait to be delivered."""
        with self._db.read() as conn:
            count = conn.execute(
                select(func.count())
                .select_from(webhook_outbox)
                .where(webhook_outbox.c.status == PENDING)
            ).scalar_one()
        return int(count)

    def _settle(self, item_id: int, *, finished: bool, **values: Any) -> None:
        at = self._now()
        if finished:
            values["finished_at"] = at
        with self._db.write() as conn:
            changed = conn.execute(
                update(webhook_outbox)
                .where(webhook_outbox.c.id == item_id, webhook_outbox.c.status == PENDING)
                .values(attempts=webhook_outbox.c.attempts + 1, **values)
            ).rowcount
            if changed:
                code, error = values.get("last_status_code"), values.get("last_error")
                _log_try(conn, item_id, at, code, error)


def _log_try(
    conn: Connection, item_id: int, at: datetime, status_code: int | None, error: str | None
) -> None:
    """The delivery log's row for one try, in the transaction that settles it."""
    source = select(
        webhook_outbox.c.id,
        webhook_outbox.c.request_id,
        literal(at, webhook_attempts.c.attempted_at.type),
        literal(status_code, webhook_attempts.c.status_code.type),
        literal(error, webhook_attempts.c.error.type),
    ).where(webhook_outbox.c.id == item_id)
    columns = ["outbox_id", "request_id", "attempted_at", "status_code", "error"]
    conn.execute(insert(webhook_attempts).from_select(columns, source))


def _delivery(row: Any, tries: list[DeliveryTry]) -> Delivery:
    pending = row["status"] == PENDING
    return Delivery(
        id=int(row["id"]),
        url=str(row["url"]),
        event=str(row["event"]),
        status=str(row["status"]),
        created_at=row["created_at"],
        finished_at=row["finished_at"],
        next_attempt_at=row["next_attempt_at"] if pending else None,
        tries=tries,
    )


def _item(row: Any) -> OutboxItem:
    return OutboxItem(
        id=int(row["id"]),
        request_id=str(row["request_id"]),
        url=str(row["url"]),
        event=str(row["event"]),
        attempts=int(row["attempts"]),
        next_attempt_at=row["next_attempt_at"],
    )
