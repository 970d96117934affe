"""What keeps the dashboard safe: the server's headers on every /ui response, no inline code,
user data shown as text, and changes refused unless they come from the dashboard itself (a page
on another port of 127.0.0.1 is the same *site*, so its requests carry the cookie: the strong
case for the CSRF check)."""
from __future__ import annotations

import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import httpx
import pytest
from conftest import sign_in, unique
from playwright.sync_api import expect


@pytest.mark.parametrize("path", ["/ui", "/ui/jobs", "/ui/jobs/x/y", "/ui/assets/app.js", "/ui/assets/app.css", "/ui/session"])
def test_every_ui_response_carries_the_security_headers(server, path):
    r = httpx.get(server.url + path)
    csp = r.headers.get("content-security-policy", "")
    directives = {d.strip().split(" ")[0]: d.strip() for d in csp.split(";") if d.strip()}
    assert directives.get("frame-ancestors") == "frame-ancestors 'none'", csp
    assert directives.get("script-src") == "script-src 'self'", csp
    assert directives.get("style-src") == "style-src 'self'", csp
    assert directives.get("object-src") == "object-src 'none'", csp
    assert "unsafe" not in csp, csp
    assert r.headers.get("x-content-type-options") == "nosniff"
    assert r.headers.get("x-frame-options") == "DENY"


def test_the_shell_needs_no_inline_code_and_assets_have_their_types(server):
    html = httpx.get(server.url + "/ui/jobs").text
    assert "<script>" not in html and "<style" not in html and "style=" not in html, html
    assert '<script type="module" src="/ui/assets/app.js">' in html
    types = {p: httpx.get(server.url + p).headers["content-type"]
             for p in ["/ui/assets/app.js", "/ui/assets/pages/job.js", "/ui/assets/app.css", "/ui/assets/favicon.svg"]}
    assert types["/ui/assets/app.js"].startswith("text/javascript"), types
    assert types["/ui/assets/pages/job.js"].startswith("text/javascript"), types
    assert types["/ui/assets/app.css"].startswith("text/css"), types
    assert types["/ui/assets/favicon.svg"].startswith("image/svg+xml"), types


def test_pages_run_without_csp_violations_and_show_user_data_as_text(server, api, pages):
    hostile = "<img src=x onerror=\"window.__pwned=1\"><script>window.__pwned=2</script>"
    kind = unique("xss.prueba")
    api.enqueue(kind, payload={"nota": hostile}, tags=["<b>etiqueta</b>"], max_attempts=1)
    job = api.fail(api.claim(kind), "bad_html", hostile, details={"html": hostile})
    page = pages.new()
    sign_in(page, server)
    expect(page.locator(f"tr[data-id='{job['id']}']")).to_be_visible()
    page.get_by_role("link", name="Queues").click()
    expect(page.locator("table.table--queues")).to_be_visible()
    page.goto(f"{server.url}/ui/jobs/{job['id']}")
    expect(page.locator("[data-testid=error-message]")).to_have_text(hostile)
    expect(page.locator("[data-section=payload] pre")).to_contain_text(hostile.replace('"', '\\"'))
    expect(page.get_by_role("link", name="<b>etiqueta</b>")).to_be_visible()
    page.locator("[data-action=retry]").click()
    page.keyboard.press("Escape")
    assert page.evaluate("window.__pwned") is None
    assert page.evaluate("window.__cspViolations") == []
    # (the `pages` fixture also fails the test on any violation reported in the console)


class OtherSite:
    """A page on another port of 127.0.0.1: another origin, the same site."""

    def __init__(self, html: str) -> None:
        body = html.encode()

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args):
                pass

            def do_GET(self):
                self.send_response(200)
                self.send_header("Content-Type", "text/html; charset=utf-8")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        threading.Thread(target=self.httpd.serve_forever, daemon=True).start()
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}/"

    def stop(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()


def test_a_forged_form_post_from_another_origin_is_refused(server, api, pages):
    dead = api.dead_job(unique("csrf.form"))
    target = f"{server.url}/v1/jobs/{dead['id']}/retry"
    site = OtherSite(f"""<!doctype html><title>gana un premio</title>
<form method="post" action="{target}"><input type="hidden" name="x" value="1"></form>
<script>document.forms[0].submit()</script>""")
    try:
        page = pages.new()
        sign_in(page, server)
        with page.expect_response(lambda r: r.url == target) as answer:
            page.goto(site.url)
        res = answer.value
        assert res.request.method == "POST"
        # The cookie went along (same site): only the CSRF check stands in the way.
        assert "tarea_session=" in (res.request.all_headers().get("cookie") or "")
        assert res.status == 403, res.text()
        assert res.json()["error"]["code"] == "csrf_failed", res.text()
        assert api.job(dead["id"])["state"] == "dead"
    finally:
        site.stop()


def test_a_credentialed_fetch_from_another_origin_is_refused(server, api, pages):
    dead = api.dead_job(unique("csrf.fetch"))
    target = f"{server.url}/v1/jobs/{dead['id']}/retry"
    site = OtherSite("<!doctype html><title>otra</title><p>otra página</p>")
    try:
        page = pages.new()
        sign_in(page, server)
        page.goto(site.url)
        # The browser hides the answer from the other page (no CORS), so the test reads it
        # from the browser's network log.
        cdp = page.context.new_cdp_session(page)
        cdp.send("Network.enable")
        sent, seen = {}, {}
        cdp.on("Network.requestWillBeSent", lambda e: sent.setdefault(e["requestId"], e["request"]["url"]))
        cdp.on("Network.requestWillBeSentExtraInfo", lambda e: seen.setdefault(e["requestId"], {}).update(
            cookie=e["headers"].get("Cookie", "")))
        cdp.on("Network.responseReceivedExtraInfo", lambda e: seen.setdefault(e["requestId"], {}).update(
            status=e["statusCode"]))
        outcome = page.evaluate("""(url) => fetch(url, {method: 'POST', credentials: 'include'})
            .then(r => 'read ' + r.status, e => 'blocked: ' + e)""", target)
        assert outcome.startswith("blocked"), outcome
        page.wait_for_function("() => true")
        [request_id] = [i for i, url in sent.items() if url == target]
        answer = seen[request_id]
        assert "tarea_session=" in answer["cookie"], answer  # the cookie went along (same site)
        assert answer["status"] == 403, answer
        assert api.job(dead["id"])["state"] == "dead"
    finally:
        site.stop()


def test_the_dashboard_cannot_be_framed(server, pages):
    site = OtherSite(f'<!doctype html><title>marco</title><iframe src="{server.url}/ui/signin"></iframe>')
    try:
        page = pages.new()
        page.goto(site.url)
        frame = page.frames[-1]
        expect(page.locator("iframe")).to_be_visible()
        page.wait_for_function("() => true")
        assert frame.locator("#key").count() == 0
        refused = [v for v in pages.violations if "frame-ancestors" in v]
        assert refused, pages.violations
        pages.violations.remove(refused[0])  # the one violation this test expects
    finally:
        site.stop()
