"""What the server answers, as light objects over its JSON (unknown fields are kept in ``.raw``)."""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

FINISHED = frozenset({"succeeded", "dead", "cancelled"})


@dataclass
class Artifact:
    """A file a job made."""

    id: str
    filename: str
    content_type: str
    size: int
    sha256: str
    raw: dict[str, Any] = field(repr=False, default_factory=dict)

    @classmethod
    def from_json(cls, v: dict[str, Any]) -> "Artifact":
        return cls(v["id"], v.get("filename", ""), v.get("content_type", ""), v.get("size", 0), v.get("sha256", ""), v)


@dataclass
class Job:
    """A job view. ``state`` is one of scheduled, queued, running, succeeded, failed, dead,
    cancelled; ``finished`` is true for the last three."""

    id: str
    kind: str
    queue: str
    state: str
    attempt: int
    payload: Any
    progress: dict[str, Any] | None
    result: Any
    error: dict[str, Any] | None
    artifacts: list[Artifact]
    tags: list[str]
    raw: dict[str, Any] = field(repr=False, default_factory=dict)
    _client: Any = field(repr=False, default=None, compare=False)

    @classmethod
    def from_json(cls, v: dict[str, Any], client: Any = None) -> "Job":
        return cls(
            id=v["id"],
            kind=v.get("kind", ""),
            queue=v.get("queue", ""),
            state=v.get("state", ""),
            attempt=v.get("attempt", 0),
            payload=v.get("payload"),
            progress=v.get("progress"),
            result=v.get("result"),
            error=v.get("error"),
            artifacts=[Artifact.from_json(a) for a in v.get("artifacts") or []],
            tags=list(v.get("tags") or []),
            raw=v,
            _client=client,
        )

    @property
    def finished(self) -> bool:
        return self.state in FINISHED

    @property
    def next_id(self) -> str | None:
        """The job this one's ``then`` made, once it succeeded."""
        return self.raw.get("next_id")

    def refresh(self) -> "Job":
        """This job as the server has it now (a sync client only)."""
        return self._client.get(self.id)

    def wait(self, timeout: float = 60.0, poll: float = 0.1) -> "Job":
        """Waits until the job ends; raises ``JobFailed`` if it dies or is cancelled."""
        return self._client.wait(self.id, timeout=timeout, poll=poll)


@dataclass
class Batch:
    """A batch view: ``state`` running, succeeded or failed; ``counts`` by item state."""

    id: str
    state: str
    total: int
    counts: dict[str, int]
    progress: dict[str, Any]
    job_ids: list[str]
    raw: dict[str, Any] = field(repr=False, default_factory=dict)

    @classmethod
    def from_json(cls, v: dict[str, Any]) -> "Batch":
        return cls(v["id"], v.get("state", ""), v.get("total", 0), v.get("counts") or {}, v.get("progress") or {},
                   list(v.get("job_ids") or []), v)

    @property
    def finished(self) -> bool:
        return self.state != "running"

    @property
    def on_complete_job_id(self) -> str | None:
        return self.raw.get("on_complete_job_id")
