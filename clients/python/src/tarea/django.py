"""Django helpers: enqueue a job only if the surrounding transaction commits.

- ``enqueue_on_commit`` works on any database: the job is enqueued over HTTP right after the
  transaction commits (and never if it rolls back). A crash between the commit and the call
  loses the job; use the next helper where that matters.
- ``enqueue_in_transaction`` is for PostgreSQL when tarea runs on the same database (its
  cluster mode): the job is written by the ``tarea.enqueue()`` SQL function inside the app's
  own transaction, so it exists if and only if the transaction commits.
"""
from __future__ import annotations

import json
from typing import Any

from ._client import Client


def enqueue_on_commit(client: Client, kind: str, payload: Any = None, *, using: str | None = None,
                      **options: Any) -> None:
    """Enqueues the job when the current transaction (of database ``using``) commits."""
    from django.db import transaction

    transaction.on_commit(lambda: client.enqueue(kind, payload, **options), using=using)


def enqueue_in_transaction(cursor: Any, tenant: str, kind: str, payload: Any = None, *, queue: str = "default",
                           priority: int = 0, max_attempts: int | None = None, idempotency_key: str | None = None,
                           tags: list[str] | None = None, schema: str = "tarea") -> str:
    """Writes the job with ``tarea.enqueue()`` on ``cursor`` (a Django or psycopg cursor of
    the app's PostgreSQL connection, inside its transaction); answers the job id. Workers on
    every tarea node are woken when the transaction commits."""
    if not schema.replace("_", "").isalnum():
        raise ValueError(f"schema {schema!r} is not a plain identifier")
    cursor.execute(
        f"SELECT {schema}.enqueue(tenant => %s, kind => %s, payload => %s::jsonb, queue => %s, priority => %s, "
        f"max_attempts => %s, idempotency_key => %s, tags => %s)",
        [tenant, kind, json.dumps(payload if payload is not None else {}), queue, priority, max_attempts,
         idempotency_key, tags],
    )
    return str(cursor.fetchone()[0])
