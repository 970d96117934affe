"""The asynchronous client (``tarea.AsyncClient``): for FastAPI and other asyncio apps. The
same calls as ``tarea.Client``, awaited."""
from __future__ import annotations

import asyncio
import json
import time
from pathlib import Path
from typing import Any, AsyncIterator

import httpx

from . import _calls as calls
from ._errors import JobFailed, Timeout, raise_for
from ._models import Batch, Job


class AsyncClient:
    """``async with tarea.AsyncClient(url, api_key=key) as client: job = await client.enqueue(...)``"""

    def __init__(self, base_url: str, api_key: str, *, timeout: float = 30.0,
                 transport: httpx.AsyncBaseTransport | None = None) -> None:
        self.base_url = base_url.rstrip("/")
        self._http = httpx.AsyncClient(base_url=self.base_url, timeout=timeout, transport=transport,
                                       headers={"Authorization": f"Bearer {api_key}"})

    async def aclose(self) -> None:
        await self._http.aclose()

    async def __aenter__(self) -> "AsyncClient":
        return self

    async def __aexit__(self, *exc: Any) -> None:
        await self.aclose()

    async def _send(self, call: calls.Call) -> Any:
        response = await self._http.request(call.method, call.path, json=call.json, params=call.params)
        raise_for(response)
        return response.json() if response.content else None

    async def _job(self, call: calls.Call) -> Job:
        return Job.from_json(await self._send(call))

    async def enqueue(self, kind: str, payload: Any = None, queue: str | None = None, **options: Any) -> Job:
        return await self._job(calls.enqueue(kind, payload, queue, **options))

    async def get(self, job_id: str) -> Job:
        return await self._job(calls.get(job_id))

    async def cancel(self, job_id: str) -> Job:
        return await self._job(calls.cancel(job_id))

    async def retry(self, job_id: str) -> Job:
        return await self._job(calls.retry(job_id))

    async def list(self, **filters: Any) -> tuple[list[Job], str | None]:
        page = await self._send(calls.list_jobs(**filters))
        return [Job.from_json(j) for j in page["jobs"]], page.get("next_cursor")

    async def wait(self, job_id: str, timeout: float = 60.0, poll: float = 0.1) -> Job:
        deadline = time.monotonic() + timeout
        while True:
            job = await self.get(job_id)
            if job.finished:
                if job.state != "succeeded":
                    raise JobFailed(job)
                return job
            if time.monotonic() > deadline:
                raise Timeout(f"job {job_id} is still {job.state} after {timeout} s")
            await asyncio.sleep(poll)

    async def events(self, job_id: str) -> AsyncIterator[tuple[str, Job]]:
        async with self._http.stream("GET", f"/v1/jobs/{job_id}/events", timeout=None) as response:
            if response.status_code >= 400:
                await response.aread()
                raise_for(response)
            event = "message"
            async for line in response.aiter_lines():
                if line.startswith("event:"):
                    event = line[6:].strip()
                elif line.startswith("data:"):
                    yield event, Job.from_json(json.loads(line[5:]))
                    event = "message"

    async def batch(self, jobs: list[dict[str, Any]], on_complete: dict[str, Any] | None = None) -> Batch:
        return Batch.from_json(await self._send(calls.batch(jobs, on_complete)))

    async def get_batch(self, batch_id: str) -> Batch:
        return Batch.from_json(await self._send(calls.get_batch(batch_id)))

    async def download(self, artifact_id: str, path: str | Path | None = None) -> bytes:
        response = await self._http.get(f"/v1/artifacts/{artifact_id}/content")
        raise_for(response)
        if path is not None:
            Path(path).write_bytes(response.content)
        return response.content

    async def link(self, artifact_id: str, expires_in_s: int = 86_400) -> str:
        return (await self._send(calls.link(artifact_id, expires_in_s)))["url"]

    async def browser_link(self, job_id: str, expires_in_s: int = 3_600) -> str:
        return (await self._send(calls.browser_link(job_id, expires_in_s)))["url"]

    async def schedule(self, name: str, cron: str, job: dict[str, Any], timezone: str | None = None, **options: Any) -> dict[str, Any]:
        return await self._send(calls.schedule(name, cron, job, timezone, **options))
