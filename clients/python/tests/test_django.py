"""The Django helpers: on commit (any database), and in the app's own PostgreSQL transaction."""
from __future__ import annotations

import time

import psycopg
import pytest

import tarea
from tarea.django import enqueue_in_transaction, enqueue_on_commit


@pytest.fixture(scope="module")
def django_db():
    import django
    from django.conf import settings

    if not settings.configured:
        settings.configure(DATABASES={"default": {"ENGINE": "django.db.backends.sqlite3", "NAME": ":memory:"}},
                           INSTALLED_APPS=[], USE_TZ=True)
        django.setup()


def test_enqueue_on_commit_waits_for_the_commit(server, django_db):
    from django.db import transaction

    with tarea.Client(server.url, api_key=server.key) as client:
        with transaction.atomic():
            enqueue_on_commit(client, "tarea.noop", {"protocolo": 1}, tags=["on-commit"])
            assert client.list(tag="on-commit")[0] == [], "nothing before COMMIT"
        assert len(client.list(tag="on-commit")[0]) == 1
        try:
            with transaction.atomic():
                enqueue_on_commit(client, "tarea.noop", {"protocolo": 2}, tags=["rolled-back"])
                raise RuntimeError("rollback")
        except RuntimeError:
            pass
        assert client.list(tag="rolled-back")[0] == []


def test_enqueue_in_the_apps_transaction_on_postgresql(pg_server):
    from conftest import PG_URL

    with tarea.Client(pg_server.url, api_key=pg_server.key) as client:
        with psycopg.connect(PG_URL) as conn:
            with conn.cursor() as cur:
                kept = enqueue_in_transaction(cur, "acme", "tarea.noop", {"protocolo": 7}, schema=pg_server.schema)
            conn.commit()
            with conn.cursor() as cur:
                dropped = enqueue_in_transaction(cur, "acme", "tarea.noop", {"protocolo": 8}, schema=pg_server.schema)
            conn.rollback()
        assert client.wait(kept, timeout=20).payload == {"protocolo": 7}
        with pytest.raises(tarea.ApiError) as e:
            client.get(dropped)
        assert e.value.code == "not_found"
        with pytest.raises(ValueError):
            enqueue_in_transaction(None, "acme", "x", schema="x; DROP")
