"""A real `tarea serve` per test module, from the binary cargo built (TAREA_BINARY, else
target/debug/tarea of this checkout), on a free port of 127.0.0.1 with a fresh data dir."""
from __future__ import annotations

import os
import socket
import subprocess
import time
import uuid
from pathlib import Path

import httpx
import pytest

ROOT = Path(__file__).resolve().parents[3]
BINARY = os.environ.get("TAREA_BINARY") or str(ROOT / "target" / "debug" / "tarea")
PG_URL = os.environ.get("TAREA_TEST_DATABASE_URL", "postgres://postgres@127.0.0.1:5432/postgres")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Server:
    def __init__(self, tmp: Path, store: list[str]) -> None:
        self.key = subprocess.run([BINARY, "keys", "create", "--tenant", "acme", *store], check=True,
                                  capture_output=True, text=True).stdout.strip()
        assert self.key.startswith("tarea_"), self.key
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.proc = subprocess.Popen([BINARY, "serve", *store, "--listen", f"127.0.0.1:{self.port}"],
                                     stdout=subprocess.DEVNULL, stderr=open(tmp / "tarea.log", "w"))
        deadline = time.monotonic() + 30
        while True:
            try:
                if httpx.get(f"{self.url}/readyz", timeout=1).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            assert self.proc.poll() is None, (tmp / "tarea.log").read_text()
            assert time.monotonic() < deadline, "tarea did not start"
            time.sleep(0.05)

    def stop(self) -> None:
        self.proc.terminate()
        self.proc.wait(timeout=30)


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("tarea")
    s = Server(tmp, ["--data-dir", str(tmp / "data")])
    yield s
    s.stop()


@pytest.fixture(scope="module")
def pg_server(tmp_path_factory):
    """tarea on the machine's PostgreSQL, in a schema of its own."""
    tmp = tmp_path_factory.mktemp("tarea-pg")
    schema = "pyclient_" + uuid.uuid4().hex[:10]
    s = Server(tmp, ["--database", PG_URL, "--schema", schema])
    s.schema = schema
    yield s
    s.stop()
    import psycopg

    with psycopg.connect(PG_URL, autocommit=True) as conn:
        conn.execute(f'DROP SCHEMA "{schema}" CASCADE')
