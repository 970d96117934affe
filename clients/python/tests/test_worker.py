"""The worker SDK against a real server: tasks run, report progress, fail (retried or not),
see their cancellation, and a stopped worker finishes what it runs."""
from __future__ import annotations

import threading
import time

import pytest

import tarea


@pytest.fixture
def client(server):
    with tarea.Client(server.url, api_key=server.key) as c:
        yield c


def start(worker: tarea.Worker) -> threading.Thread:
    t = threading.Thread(target=worker.run, kwargs={"install_signals": False}, daemon=True)
    t.start()
    return t


def test_tasks_run_app_code_and_fail_as_told(client):
    worker = tarea.Worker(client, queues=["app"], concurrency=3, lease_ms=3000, poll_wait_ms=500)
    statuses: dict[int, str] = {}
    calls = {"flaky": 0}

    @worker.task("protocols.set_status")
    def set_status(job):
        if job.payload["estado"] not in ("recibido", "listo"):
            raise tarea.Fatal("bad_status", f"estado desconocido: {job.payload['estado']}")
        job.progress(percent=50, step="Guardando")
        statuses[job.payload["protocolo"]] = job.payload["estado"]
        return {"ok": True, "protocolo": job.payload["protocolo"]}

    @worker.task("protocols.flaky")
    def flaky(job):
        calls["flaky"] += 1
        if job.attempt == 1:
            raise RuntimeError("la base de datos no responde")
        return {"intento": job.attempt}

    thread = start(worker)
    try:
        batch = client.batch([tarea.job("protocols.set_status", {"protocolo": i, "estado": "recibido"}, queue="app")
                              for i in range(50)])
        done = client.wait_batch(batch.id, timeout=60)
        assert done.state == "succeeded" and done.counts["succeeded"] == 50
        assert len(statuses) == 50
        one = client.get(batch.job_ids[7])
        assert one.result == {"ok": True, "protocolo": 7} and one.progress["step"] == "Guardando"

        bad = client.enqueue("protocols.set_status", {"protocolo": 99, "estado": "perdido"}, queue="app")
        with pytest.raises(tarea.JobFailed) as e:
            bad.wait(timeout=20)
        assert e.value.job.error["code"] == "bad_status" and e.value.job.attempt == 1

        again = client.enqueue("protocols.flaky", queue="app", retry={"base_ms": 10, "max_ms": 20})
        assert again.wait(timeout=20).result == {"intento": 2}
        failed_once = client.get(again.id)
        assert failed_once.attempt == 2
    finally:
        worker.stop()
        thread.join(timeout=30)
    assert not thread.is_alive()


def test_a_cancelled_job_is_seen_by_its_task(client):
    worker = tarea.Worker(client, queues=["largo"], concurrency=1, lease_ms=1500, poll_wait_ms=500)
    seen = threading.Event()
    started = threading.Event()

    @worker.task("exports.slow")
    def slow(job):
        started.set()
        deadline = time.monotonic() + 20
        while not job.cancelled and time.monotonic() < deadline:
            time.sleep(0.05)
        if job.cancelled:
            seen.set()
        return {"partial": True}

    thread = start(worker)
    try:
        job = client.enqueue("exports.slow", queue="largo")
        assert started.wait(10)
        assert client.cancel(job.id).state == "cancelled"
        assert seen.wait(10), "the task never saw its cancellation"
        assert client.get(job.id).state == "cancelled"
    finally:
        worker.stop()
        thread.join(timeout=30)


def test_a_stopped_worker_finishes_what_it_runs(client):
    worker = tarea.Worker(client, queues=["cierre"], concurrency=2, lease_ms=3000, poll_wait_ms=300)
    started = threading.Event()

    @worker.task("reports.finish")
    def finish(job):
        started.set()
        time.sleep(0.5)
        return {"ok": True}

    thread = start(worker)
    job = client.enqueue("reports.finish", queue="cierre")
    assert started.wait(10)
    worker.stop()
    thread.join(timeout=30)
    assert not thread.is_alive()
    assert client.get(job.id).state == "succeeded"
