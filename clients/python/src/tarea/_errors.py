"""Errors raised by the client: every API error carries tarea's stable code."""
from __future__ import annotations

from typing import Any


class TareaError(Exception):
    """Base class of this package's errors."""


class ApiError(TareaError):
    """The server refused a call: ``status``, a stable ``code``, a ``message`` and ``details``."""

    def __init__(self, status: int, code: str, message: str, details: dict[str, Any] | None = None) -> None:
        super().__init__(f"{status} {code}: {message}")
        self.status = status
        self.code = code
        self.message = message
        self.details = details or {}

    @property
    def field(self) -> str | None:
        """The request field at fault, for ``invalid_request``."""
        return self.details.get("field")


class JobFailed(TareaError):
    """A job ended ``dead`` or ``cancelled`` while it was awaited."""

    def __init__(self, job: Any) -> None:
        error = job.error or {}
        super().__init__(f"job {job.id} ended {job.state}: {error.get('code')}: {error.get('message')}")
        self.job = job


class Timeout(TareaError):
    """A wait ran out before the job or batch ended."""


class Fatal(Exception):
    """Raised by a task to fail its job without another attempt (bad input, say)."""

    def __init__(self, code: str, message: str, details: dict[str, Any] | None = None) -> None:
        super().__init__(message)
        self.code = code
        self.message = message
        self.details = details or {}


def raise_for(response: Any) -> None:
    """Raises ``ApiError`` for an error answer (a JSON error body, as tarea always sends)."""
    if response.status_code < 400:
        return
    try:
        err = response.json()["error"]
        raise ApiError(response.status_code, err.get("code", "error"), err.get("message", ""), err.get("details"))
    except (ValueError, KeyError, TypeError):
        raise ApiError(response.status_code, "error", response.text[:500]) from None
