"""The synchronous client (``tarea.Client``): for Django views, management commands, scripts."""
from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any, Iterator

import httpx

from . import _calls as calls
from ._errors import JobFailed, Timeout, raise_for
from ._models import Batch, Job


class Client:
    """A client of one tarea server, acting for the tenant of ``api_key``.

    >>> client = tarea.Client("http://127.0.0.1:8080", api_key=os.environ["TAREA_KEY"])
    >>> job = client.enqueue("pdf.render", {"template": "lab-report", "data": data})
    >>> job = job.wait()            # succeeded, or JobFailed
    >>> client.download(job.artifacts[0].id, "informe.pdf")
    """

    def __init__(self, base_url: str, api_key: str, *, timeout: float = 30.0,
                 transport: httpx.BaseTransport | None = None) -> None:
        self.base_url = base_url.rstrip("/")
        self._http = httpx.Client(base_url=self.base_url, timeout=timeout, transport=transport,
                                  headers={"Authorization": f"Bearer {api_key}"})

    def close(self) -> None:
        self._http.close()

    def __enter__(self) -> "Client":
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()

    def _send(self, call: calls.Call, timeout: float | None = None) -> Any:
        kwargs: dict[str, Any] = {"json": call.json, "params": call.params}
        if timeout is not None:
            kwargs["timeout"] = timeout
        response = self._http.request(call.method, call.path, **kwargs)
        raise_for(response)
        return response.json() if response.content else None

    def _job(self, call: calls.Call) -> Job:
        return Job.from_json(self._send(call), self)

    def enqueue(self, kind: str, payload: Any = None, queue: str | None = None, **options: Any) -> Job:
        """Creates a job (``options``: priority, delay_ms, run_at, max_attempts, timeout_ms,
        retry, idempotency_key, cache_key, tags, then). An existing job with the same
        idempotency key is returned instead of a new one."""
        return self._job(calls.enqueue(kind, payload, queue, **options))

    def get(self, job_id: str) -> Job:
        return self._job(calls.get(job_id))

    def cancel(self, job_id: str) -> Job:
        return self._job(calls.cancel(job_id))

    def retry(self, job_id: str) -> Job:
        return self._job(calls.retry(job_id))

    def list(self, **filters: Any) -> tuple[list[Job], str | None]:
        """A page of jobs, newest first (filters: state, queue, kind, tag, batch, limit, cursor),
        and the cursor of the next page."""
        page = self._send(calls.list_jobs(**filters))
        return [Job.from_json(j, self) for j in page["jobs"]], page.get("next_cursor")

    def wait(self, job_id: str, timeout: float = 60.0, poll: float = 0.1) -> Job:
        """Polls a job until it ends; returns it if it succeeded, raises ``JobFailed`` if it
        died or was cancelled, ``Timeout`` if ``timeout`` seconds pass first."""
        deadline = time.monotonic() + timeout
        while True:
            job = self.get(job_id)
            if job.finished:
                if job.state != "succeeded":
                    raise JobFailed(job)
                return job
            if time.monotonic() > deadline:
                raise Timeout(f"job {job_id} is still {job.state} after {timeout} s")
            time.sleep(poll)

    def events(self, job_id: str) -> Iterator[tuple[str, Job]]:
        """Follows a job live (Server-Sent Events): yields ``(event, job)`` with event
        ``state`` or ``progress``, starting with the job as it is, until it ends."""
        with self._http.stream("GET", f"/v1/jobs/{job_id}/events", timeout=None) as response:
            if response.status_code >= 400:
                response.read()
                raise_for(response)
            event = "message"
            for line in response.iter_lines():
                if line.startswith("event:"):
                    event = line[6:].strip()
                elif line.startswith("data:"):
                    yield event, Job.from_json(json.loads(line[5:]), self)
                    event = "message"

    def batch(self, jobs: list[dict[str, Any]], on_complete: dict[str, Any] | None = None) -> Batch:
        """Creates a batch: items built with ``tarea.job(kind, payload, ...)``."""
        return Batch.from_json(self._send(calls.batch(jobs, on_complete)))

    def get_batch(self, batch_id: str) -> Batch:
        return Batch.from_json(self._send(calls.get_batch(batch_id)))

    def wait_batch(self, batch_id: str, timeout: float = 300.0, poll: float = 0.2) -> Batch:
        """Polls a batch until every item ended (and its on_complete job was made)."""
        deadline = time.monotonic() + timeout
        while True:
            b = self.get_batch(batch_id)
            if b.finished and (b.raw.get("on_complete") is None or b.on_complete_job_id):
                return b
            if time.monotonic() > deadline:
                raise Timeout(f"batch {batch_id} is still running after {timeout} s")
            time.sleep(poll)

    def download(self, artifact_id: str, path: str | Path | None = None) -> bytes:
        """An artifact's bytes; written to ``path`` too when given."""
        response = self._http.get(f"/v1/artifacts/{artifact_id}/content")
        raise_for(response)
        if path is not None:
            Path(path).write_bytes(response.content)
        return response.content

    def link(self, artifact_id: str, expires_in_s: int = 86_400) -> str:
        """A signed download link that works without the API key until it expires."""
        return self._send(calls.link(artifact_id, expires_in_s))["url"]

    def browser_link(self, job_id: str, expires_in_s: int = 3_600) -> str:
        """A signed link a browser follows the job with (its events, its view, its files)
        without the API key: hand it to ``watchJob`` of tarea's JS library."""
        return self._send(calls.browser_link(job_id, expires_in_s))["url"]

    def schedule(self, name: str, cron: str, job: dict[str, Any], timezone: str | None = None, **options: Any) -> dict[str, Any]:
        """Creates or replaces a schedule; ``job`` is built with ``tarea.job(...)``."""
        return self._send(calls.schedule(name, cron, job, timezone, **options))
