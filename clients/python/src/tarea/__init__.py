"""tarea: the Python client and worker SDK of the tarea job server.

>>> import tarea
>>> client = tarea.Client("http://127.0.0.1:8080", api_key="tarea_…")
>>> job = client.enqueue("pdf.render", {"template": "lab-report", "data": {...}})
>>> job.wait().artifacts[0].id
"""
from typing import Any

from ._async import AsyncClient
from ._calls import job_body
from ._client import Client
from ._errors import ApiError, Fatal, JobFailed, TareaError, Timeout
from ._models import Artifact, Batch, Job
from .worker import Worker, WorkerJob

__all__ = [
    "ApiError", "Artifact", "AsyncClient", "Batch", "Client", "Fatal", "Job", "JobFailed", "TareaError", "Timeout",
    "Worker", "WorkerJob", "job",
]


def job(kind: str, payload: Any = None, queue: str | None = None, **options: Any) -> dict[str, Any]:
    """A job request (for batches, ``then``, ``on_complete`` and schedules):
    ``tarea.job("email.send", {...}, queue="correo")``."""
    return job_body(kind, payload, queue=queue, **options)
