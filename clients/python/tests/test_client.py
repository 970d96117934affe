"""The clients against a real server: jobs, waits, live events, errors, batches, chains,
schedules, downloads."""
from __future__ import annotations

import asyncio

import pytest

import tarea


@pytest.fixture
def client(server):
    with tarea.Client(server.url, api_key=server.key) as c:
        yield c


def test_enqueue_wait_and_idempotency(client):
    job = client.enqueue("tarea.sleep", {"ms": 50}, queue="py", tags=["protocolo-1"], idempotency_key="py-1")
    assert job.state in ("queued", "running") and job.queue == "py" and job.tags == ["protocolo-1"]
    assert client.enqueue("tarea.sleep", {"ms": 50}, idempotency_key="py-1").id == job.id
    done = job.wait(timeout=10)
    assert done.state == "succeeded" and done.finished
    jobs, _ = client.list(tag="protocolo-1")
    assert [j.id for j in jobs] == [job.id]


def test_a_job_that_dies_raises_with_its_error(client):
    job = client.enqueue("tarea.sleep", {"ms": 1, "fail": "sin papel"}, max_attempts=1)
    with pytest.raises(tarea.JobFailed) as e:
        job.wait(timeout=10)
    assert e.value.job.state == "dead"
    assert e.value.job.error["message"] == "sin papel"


def test_api_errors_carry_code_and_field(client):
    with pytest.raises(tarea.ApiError) as e:
        client.enqueue("Not A Kind")
    assert (e.value.status, e.value.code, e.value.field) == (400, "invalid_request", "kind")
    with pytest.raises(tarea.ApiError) as e:
        client.get("0193a1b2-0000-7000-8000-000000000000")
    assert e.value.code == "not_found"


def test_events_follow_a_job_to_its_end(client):
    job = client.enqueue("tarea.sleep", {"ms": 300})
    seen = list(client.events(job.id))
    assert seen[-1][1].state == "succeeded"
    assert any(event == "progress" for event, _ in seen)


def test_a_chain_and_a_batch(client):
    first = client.enqueue("tarea.noop", {"paso": 1}, then=tarea.job("tarea.noop", {"paso": 2}, queue="avisos"))
    first.wait(timeout=10)
    for _ in range(100):
        parent = client.get(first.id)
        if parent.next_id:
            break
        asyncio.run(asyncio.sleep(0.05))
    child = client.wait(parent.next_id, timeout=10)
    assert child.payload["paso"] == 2 and child.payload["parent"]["id"] == first.id

    items = [tarea.job("tarea.noop", {"protocolo": i}) for i in range(20)]
    items.append(tarea.job("tarea.sleep", {"ms": 1, "fail": "no existe"}, max_attempts=1))
    batch = client.batch(items, on_complete=tarea.job("tarea.noop", {"aviso": "fin"}))
    assert batch.total == 21 and len(batch.job_ids) == 21
    done = client.wait_batch(batch.id, timeout=30)
    assert done.state == "failed" and done.counts["succeeded"] == 20 and done.counts["dead"] == 1
    callback = client.wait(done.on_complete_job_id, timeout=10)
    assert callback.payload["batch"]["failed"] == 1


def test_schedules(client):
    view = client.schedule("estadisticas", "0 2 * * *", tarea.job("tarea.noop"), timezone="America/Argentina/Buenos_Aires")
    assert view["next_runs"][0].endswith("T02:00:00-03:00")
    with pytest.raises(tarea.ApiError) as e:
        client.schedule("mala", "0 2 * *", tarea.job("tarea.noop"))
    assert e.value.field == "cron"


def test_the_async_client(server):
    async def main():
        async with tarea.AsyncClient(server.url, api_key=server.key) as c:
            job = await c.enqueue("tarea.sleep", {"ms": 100})
            states = [view.state async for _, view in c.events(job.id)]
            assert states[-1] == "succeeded"
            assert (await c.wait(job.id)).state == "succeeded"
            with pytest.raises(tarea.ApiError):
                await c.enqueue("tarea.noop", priority=1000)

    asyncio.run(main())
