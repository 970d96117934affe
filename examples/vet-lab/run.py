"""Starts vet-lab against a running tarea: `python examples/vet-lab/run.py` (see README.md)."""
from __future__ import annotations

import os
import sys
import threading
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "clients" / "python" / "src"))

import uvicorn  # noqa: E402

from app import create_app, from_env  # noqa: E402
from worker import make_worker  # noqa: E402

if __name__ == "__main__":
    lab = from_env()
    worker = make_worker(lab)
    threading.Thread(target=worker.run, kwargs={"install_signals": False}, daemon=True).start()
    port = int(os.environ.get("APP_URL", "http://127.0.0.1:8000").rsplit(":", 1)[-1].strip("/"))
    uvicorn.run(create_app(lab), host="127.0.0.1", port=port)
    worker.stop()
