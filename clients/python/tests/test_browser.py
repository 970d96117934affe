"""clients/js in headless Chromium (Debian's chromium, which scripts/test installs): a page on
another origin follows jobs through browser links — live (SSE) and by polling — shows the
progress modal, downloads the file, and is refused with a tampered link. The page reports
what it saw to this test's own small HTTP server. It asks that server for its link once it has
loaded, and only then is the job enqueued: a slow browser start cannot miss the job's progress."""
from __future__ import annotations

import json
import queue
import shutil
import subprocess
import threading
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

import tarea

JS = Path(__file__).resolve().parents[2] / "js" / "tarea.js"
CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")

PAGE = """<!doctype html><meta charset="utf-8"><title>tarea</title><body>
<script type="module">
import { watchJob, showProgressModal } from "/tarea.js";
const mode = new URLSearchParams(location.search).get("mode");
const link = await (await fetch("/link")).text();
const report = (r) => fetch("/report", {method: "POST", body: JSON.stringify(r)});
const seen = {progress: 0, steps: []};
if (mode === "modal") {
  showProgressModal(link, {title: "Generando el informe", onDone: async () => {
    try {
      const a = document.querySelector(".tarea-modal__files a");
      const res = await fetch(a.href);
      const text = await res.text();
      report({done: true, title: document.querySelector(".tarea-modal__title").textContent,
              file: a.textContent, status: res.status, text, bar: document.querySelector(".tarea-modal__bar").getAttribute("aria-valuenow")});
    } catch (e) { report({error: "the page failed: " + e}); }
  }, onError: (e) => report({error: String(e.message || (e.error && e.error.message) || e.state)})});
} else {
  watchJob(link, {
    onProgress: (job) => { seen.progress += 1; if (job.progress && job.progress.step) seen.steps.push(job.progress.step); },
    onDone: (job) => report({...seen, state: job.state, payload: job.payload === undefined ? "hidden" : "shown", artifacts: job.artifacts.length}),
    onError: (e) => report({...seen, error: e instanceof Error ? e.message : e.state}),
  }, {sse: mode !== "poll", pollMs: 100});
}
</script>"""


class Site:
    """The app's pages, on their own origin, and where they report to."""

    def __init__(self) -> None:
        self.reports: "queue.Queue[dict]" = queue.Queue()
        self.asked: "queue.Queue[bool]" = queue.Queue()
        self.links: "queue.Queue[str]" = queue.Queue()
        site = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args):
                pass

            def do_GET(self):
                if self.path.startswith("/tarea.js"):
                    body, kind = JS.read_bytes(), "text/javascript"
                elif self.path.startswith("/link"):
                    site.asked.put(True)
                    body, kind = site.links.get(timeout=60).encode(), "text/plain"
                else:
                    body, kind = PAGE.encode(), "text/html; charset=utf-8"
                self.send_response(200)
                self.send_header("Content-Type", kind)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def do_POST(self):
                data = self.rfile.read(int(self.headers["Content-Length"]))
                site.reports.put(json.loads(data))
                self.send_response(204)
                self.end_headers()

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        threading.Thread(target=self.httpd.serve_forever, daemon=True).start()
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}"

    def visit(self, make_link: Callable[[], str], mode: str, tmp: Path) -> dict:
        """Opens the page; once it has loaded and asks for its link, makes the link (and so
        the job) and hands it over; returns what the page reports."""
        page = f"{self.url}/?mode={mode}"
        browser = subprocess.Popen(
            [CHROMIUM, "--headless=new", "--no-sandbox", "--disable-gpu", "--no-first-run", "--disable-extensions",
             f"--user-data-dir={tmp / ('chrome-' + mode)}", page],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        )
        try:
            try:
                self.asked.get(timeout=60)
            except queue.Empty:
                pytest.fail("the page did not load within 60 s")
            self.links.put(make_link())
            return self.reports.get(timeout=60)
        finally:
            browser.kill()
            browser.wait()


@pytest.fixture(scope="module")
def site():
    if CHROMIUM is None:
        pytest.fail("chromium is not installed (scripts/test installs Debian's chromium)")
    s = Site()
    yield s
    s.httpd.shutdown()


@pytest.fixture
def client(server):
    with tarea.Client(server.url, api_key=server.key) as c:
        yield c


def test_a_page_follows_a_job_live_and_by_polling(client, site, tmp_path):
    for mode in ("sse", "poll"):
        seen = site.visit(lambda: client.browser_link(client.enqueue("tarea.sleep", {"ms": 1200}).id), mode, tmp_path)
        assert seen.get("state") == "succeeded", (mode, seen)
        assert seen["progress"] >= 2, (mode, seen)
        assert seen["payload"] == "hidden", "a link does not show the app's payload"


def test_the_progress_modal_ends_with_the_file_to_download(client, site, tmp_path):
    payload = {"columns": [{"header": "protocolo"}, {"header": "estado"}],
               "rows": [["HP 26/01234", "recibido"]], "filename": "protocolos.csv"}
    seen = site.visit(lambda: client.browser_link(client.enqueue("csv.export", payload).id), "modal", tmp_path)
    assert seen.get("done"), seen
    assert seen["status"] == 200 and "HP 26/01234" in seen["text"], seen
    assert seen["file"].endswith("protocolos.csv") and seen["bar"] == "100", seen


def test_a_tampered_link_is_refused(client, site, tmp_path):
    job = client.enqueue("tarea.sleep", {"ms": 100})
    link = client.browser_link(job.id)
    tampered = link[:-1] + ("0" if link[-1] != "0" else "1")
    seen = site.visit(lambda: tampered, "poll", tmp_path)
    assert "not valid" in seen.get("error", ""), seen
