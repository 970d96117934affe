"""The dashboard in a real browser against a real `tarea serve`: the binary cargo built
(TAREA_BINARY, else target/debug/tarea of this checkout) on a free port of 127.0.0.1 with a
fresh data dir, and Debian's Chromium driven by Playwright (never a downloaded browser).

The server inherits this process's environment, so `TAREA_UI_DIR=$PWD/crates/tarea-server/ui`
makes it serve the pages from disk while working on them; without it the copy embedded in the
binary is tested, as CI does.

Every page a test opens records Content-Security-Policy violations; a test that caused any
fails at teardown, so no page may need inline script or style."""
from __future__ import annotations

import os
import shutil
import socket
import subprocess
import time
import uuid
from pathlib import Path

import httpx
import pytest
from playwright.sync_api import Page, expect, sync_playwright

ROOT = Path(__file__).resolve().parents[2]
BINARY = os.environ.get("TAREA_BINARY") or str(ROOT / "target" / "debug" / "tarea")
CHROMIUM = os.environ.get("TAREA_CHROMIUM") or shutil.which("chromium") or "/usr/bin/chromium"
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync", "--no-first-run"]
LAPTOP = {"width": 1366, "height": 768}
PHONE = {"width": 390, "height": 844}

expect.set_options(timeout=5000)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Server:
    """`tarea serve` with a full key and a read-only key of one tenant."""

    def __init__(self, tmp: Path, tenant: str = "acme") -> None:
        self.tenant = tenant
        self.store = store = ["--data-dir", str(tmp / "data")]
        self.key = self._key(store, tenant)
        self.read_only_key = self._key(store, tenant, "--read-only")
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.log = tmp / "tarea.log"
        self.proc = subprocess.Popen([BINARY, "serve", *store, "--listen", f"127.0.0.1:{self.port}"],
                                     stdout=subprocess.DEVNULL, stderr=open(self.log, "w"))
        deadline = time.monotonic() + 30
        while True:
            try:
                if httpx.get(f"{self.url}/readyz", timeout=1).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            assert self.proc.poll() is None, self.log.read_text()
            assert time.monotonic() < deadline, "tarea did not start"
            time.sleep(0.05)
        self.api = Api(self.url, self.key)

    def new_key(self, tenant: str, *flags: str) -> str:
        """Another key, made with the CLI on the running server's store."""
        return self._key(self.store, tenant, *flags)

    @staticmethod
    def _key(store: list[str], tenant: str, *flags: str) -> str:
        key = subprocess.run([BINARY, "keys", "create", "--tenant", tenant, *store, *flags], check=True,
                             capture_output=True, text=True).stdout.strip()
        assert key.startswith("tarea_"), key
        return key

    def stop(self) -> None:
        self.api.close()
        self.proc.terminate()
        self.proc.wait(timeout=30)


class Api:
    """The HTTP API with a bearer key: what an app and an external worker do."""

    def __init__(self, url: str, key: str) -> None:
        self.http = httpx.Client(base_url=url, headers={"Authorization": f"Bearer {key}"}, timeout=10)

    def close(self) -> None:
        self.http.close()

    def ok(self, method: str, path: str, **kw) -> dict:
        r = self.http.request(method, path, **kw)
        assert r.is_success, f"{method} {path}: {r.status_code} {r.text}"
        return r.json() if r.content else {}

    def enqueue(self, kind: str, **fields) -> dict:
        return self.ok("POST", "/v1/jobs", json={"kind": kind, **fields})

    def job(self, job_id: str) -> dict:
        return self.ok("GET", f"/v1/jobs/{job_id}")

    def claim(self, kind: str, queue: str = "default") -> dict:
        jobs = self.ok("POST", "/v1/worker/claim",
                       json={"queues": [queue], "kinds": [kind], "lease_ms": 60000})["jobs"]
        assert len(jobs) == 1, jobs
        return jobs[0]

    def progress(self, job: dict, percent: int, **fields) -> dict:
        return self.ok("POST", f"/v1/jobs/{job['id']}/progress",
                       json={"attempt": job["attempt"], "percent": percent, **fields})

    def complete(self, job: dict, result=None) -> dict:
        return self.ok("POST", f"/v1/jobs/{job['id']}/complete", json={"attempt": job["attempt"], "result": result})

    def fail(self, job: dict, code: str, message: str, retryable: bool = False, details=None) -> dict:
        error = {"code": code, "message": message}
        if details is not None:
            error["details"] = details
        return self.ok("POST", f"/v1/jobs/{job['id']}/fail",
                       json={"attempt": job["attempt"], "error": error, "retryable": retryable})

    def upload(self, job: dict, filename: str, content: bytes, content_type: str) -> dict:
        return self.ok("POST", f"/v1/jobs/{job['id']}/artifacts",
                       params={"attempt": job["attempt"], "filename": filename},
                       content=content, headers={"Content-Type": content_type})

    def dead_job(self, kind: str, code: str = "pdf_failed", message: str = "the template has no field 'iva'") -> dict:
        """A job of an external kind that failed for good on its only attempt."""
        self.enqueue(kind, max_attempts=1, payload={"obra": "Calle Mayor 12"})
        job = self.claim(kind)
        dead = self.fail(job, code, message)
        assert dead["state"] == "dead", dead
        return dead


def unique(prefix: str) -> str:
    """A kind or queue name no other test uses, so claims never take another test's job."""
    return f"{prefix}-{uuid.uuid4().hex[:8]}"


@pytest.fixture(scope="session")
def server(tmp_path_factory):
    s = Server(tmp_path_factory.mktemp("tarea-ui"))
    yield s
    s.stop()


@pytest.fixture(scope="session")
def api(server) -> Api:
    return server.api


@pytest.fixture(scope="session")
def browser():
    if not Path(CHROMIUM).exists():
        pytest.fail(f"chromium is not installed at {CHROMIUM} (scripts/test installs Debian's chromium)")
    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield b
        b.close()


# Recorded in the page before any of its own scripts run (Playwright injects it outside the CSP).
CSP_WATCH = """
window.__cspViolations = [];
document.addEventListener('securitypolicyviolation', (e) => {
  window.__cspViolations.push(e.violatedDirective + ' ' + (e.blockedURI || '') + ' ' + (e.sourceFile || '') + ':' + e.lineNumber);
});
"""


class Pages:
    """Opens pages in fresh browser contexts (own cookies, locale, viewport) and, when the
    test ends, fails it if any page reported a CSP violation."""

    def __init__(self, browser) -> None:
        self.browser = browser
        self.contexts = []
        self.violations: list[str] = []

    def new(self, locale: str = "en-US", viewport: dict = LAPTOP, **kw) -> Page:
        ctx = self.browser.new_context(locale=locale, viewport=viewport, **kw)
        ctx.set_default_timeout(10000)  # a missing element fails in seconds, not half a minute
        ctx.add_init_script(CSP_WATCH)
        self.contexts.append(ctx)
        page = ctx.new_page()
        page.on("console", lambda m: self._console(m.text))
        page.on("pageerror", lambda e: self.violations.append(f"uncaught error: {e}"))
        return page

    def _console(self, text: str) -> None:
        if "Content Security Policy" in text or "Content-Security-Policy" in text:
            self.violations.append(text)

    def close(self) -> None:
        for ctx in self.contexts:
            for page in ctx.pages:
                try:
                    self.violations.extend(page.evaluate("window.__cspViolations || []"))
                except Exception:
                    pass
            ctx.close()


@pytest.fixture
def pages(browser):
    p = Pages(browser)
    yield p
    p.close()
    assert not p.violations, f"CSP violations or page errors: {p.violations}"


def sign_in(page: Page, server: Server, key: str | None = None, path: str = "/ui/jobs") -> None:
    """Opens `path`, which sends an anonymous visitor to sign-in, and signs in there."""
    page.goto(server.url + path)
    page.locator("#key").fill(key or server.key)
    page.locator("form button[type=submit]").click()
    expect(page.locator(".topbar")).to_be_visible()
