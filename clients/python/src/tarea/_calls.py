"""The calls of the HTTP API as (method, path, body, query) — one place shared by the sync
and async clients, so the two cannot drift apart."""
from __future__ import annotations

from typing import Any, NamedTuple


class Call(NamedTuple):
    method: str
    path: str
    json: Any = None
    params: dict[str, Any] | None = None


def job_body(kind: str, payload: Any = None, *, queue: str | None = None, **options: Any) -> dict[str, Any]:
    """The body of ``POST /v1/jobs``: ``options`` are its other fields (priority, delay_ms,
    run_at, max_attempts, timeout_ms, retry, idempotency_key, cache_key, tags, then)."""
    body: dict[str, Any] = {"kind": kind}
    if payload is not None:
        body["payload"] = payload
    if queue is not None:
        body["queue"] = queue
    body.update({k: v for k, v in options.items() if v is not None})
    return body


def enqueue(kind: str, payload: Any = None, queue: str | None = None, **options: Any) -> Call:
    return Call("POST", "/v1/jobs", job_body(kind, payload, queue=queue, **options))


def get(job_id: str) -> Call:
    return Call("GET", f"/v1/jobs/{job_id}")


def cancel(job_id: str) -> Call:
    return Call("POST", f"/v1/jobs/{job_id}/cancel")


def retry(job_id: str) -> Call:
    return Call("POST", f"/v1/jobs/{job_id}/retry")


def list_jobs(**filters: Any) -> Call:
    return Call("GET", "/v1/jobs", params={k: v for k, v in filters.items() if v is not None})


def batch(jobs: list[dict[str, Any]], on_complete: dict[str, Any] | None = None) -> Call:
    body: dict[str, Any] = {"jobs": jobs}
    if on_complete is not None:
        body["on_complete"] = on_complete
    return Call("POST", "/v1/batches", body)


def get_batch(batch_id: str) -> Call:
    return Call("GET", f"/v1/batches/{batch_id}")


def link(artifact_id: str, expires_in_s: int) -> Call:
    return Call("POST", f"/v1/artifacts/{artifact_id}/link", {"expires_in_s": expires_in_s})


def browser_link(job_id: str, expires_in_s: int) -> Call:
    return Call("POST", f"/v1/jobs/{job_id}/link", {"expires_in_s": expires_in_s})


def schedule(name: str, cron: str, job: dict[str, Any], timezone: str | None = None, **options: Any) -> Call:
    body: dict[str, Any] = {"cron": cron, "job": job}
    if timezone is not None:
        body["timezone"] = timezone
    body.update({k: v for k, v in options.items() if v is not None})
    return Call("PUT", f"/v1/schedules/{name}", body)


# The external-worker API: every call after the claim names the attempt it runs under.
def claim(queues: list[str], kinds: list[str] | None, max_jobs: int, wait_ms: int, lease_ms: int, worker: str) -> Call:
    body: dict[str, Any] = {"queues": queues, "max": max_jobs, "wait_ms": wait_ms, "lease_ms": lease_ms, "worker": worker}
    if kinds:
        body["kinds"] = kinds
    return Call("POST", "/v1/worker/claim", body)


def heartbeat(job_id: str, attempt: int, lease_ms: int) -> Call:
    return Call("POST", f"/v1/jobs/{job_id}/heartbeat", {"attempt": attempt, "lease_ms": lease_ms})


def progress(job_id: str, attempt: int, **fields: Any) -> Call:
    return Call("POST", f"/v1/jobs/{job_id}/progress", {"attempt": attempt, **{k: v for k, v in fields.items() if v is not None}})


def complete(job_id: str, attempt: int, result: Any) -> Call:
    return Call("POST", f"/v1/jobs/{job_id}/complete", {"attempt": attempt, "result": result})


def fail(job_id: str, attempt: int, code: str, message: str, details: dict[str, Any] | None, retryable: bool) -> Call:
    error = {"code": code, "message": message, "details": details or {}}
    return Call("POST", f"/v1/jobs/{job_id}/fail", {"attempt": attempt, "error": error, "retryable": retryable})
