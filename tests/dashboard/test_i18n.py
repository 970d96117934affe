"""Spanish or English from the browser's languages, a switch that is remembered, dates in the
browser's locale, and both dictionaries complete."""
from __future__ import annotations

import re
from pathlib import Path

from conftest import ROOT, sign_in, unique
from playwright.sync_api import expect

ASSETS = ROOT / "crates" / "tarea-server" / "ui" / "assets"
THREE_MINUTES_AGO = "import('/ui/assets/i18n.js').then(m => m.formatRelative(new Date(Date.now() - 180000).toISOString()))"


def test_spanish_for_an_argentine_browser(server, api, pages):
    job = api.enqueue(unique("informe.idioma"))
    page = pages.new(locale="es-AR")
    page.goto(server.url + "/ui")
    expect(page.get_by_role("heading", name="Iniciar sesión en tarea")).to_be_visible()
    assert page.evaluate("document.documentElement.lang") == "es"
    sign_in(page, server)
    expect(page.get_by_role("link", name="Trabajos")).to_be_visible()
    expect(page.get_by_role("heading", name="Trabajos")).to_be_visible()
    row = page.locator(f"tr[data-id='{job['id']}']")
    expect(row.locator(".badge")).to_have_text("en cola")
    # Dates: relative, with the exact time in es-AR's format (day first) on hover.
    title = row.locator("time").first.get_attribute("title")
    assert re.search(r"\d{1,2}/\d{1,2}/\d{4}|\d{1,2} \w+\.? \d{4}", title), title
    assert page.evaluate(THREE_MINUTES_AGO) == "hace 3 min"


def test_english_for_an_american_browser_and_the_switch_is_remembered(server, api, pages):
    page = pages.new(locale="en-US")
    sign_in(page, server)
    expect(page.get_by_role("heading", name="Jobs")).to_be_visible()
    assert page.evaluate(THREE_MINUTES_AGO) in ("3 min. ago", "3 min ago")
    page.get_by_label("Language").select_option("es")
    expect(page.get_by_role("heading", name="Trabajos")).to_be_visible()
    page.reload()
    expect(page.get_by_role("heading", name="Trabajos")).to_be_visible()
    expect(page.get_by_role("button", name="Cerrar sesión")).to_be_visible()
    page.get_by_label("Idioma").select_option("en")
    expect(page.get_by_role("heading", name="Jobs")).to_be_visible()


def test_both_dictionaries_have_every_key_the_pages_use(server, pages):
    page = pages.new()
    page.goto(server.url + "/ui/signin")
    dicts = page.evaluate("import('/ui/assets/i18n.js').then(m => m.DICTS)")
    en, es = dicts["en"], dicts["es"]
    assert set(en) == set(es), set(en) ^ set(es)
    assert all(v.strip() for v in [*en.values(), *es.values()])
    used = set()
    for js in ASSETS.rglob("*.js"):
        used |= set(re.findall(r"""\bt\(\s*["']([\w.]+)["']""", js.read_text()))
    for state in ["scheduled", "queued", "running", "succeeded", "failed", "dead", "cancelled"]:
        used |= {f"state.{state}", f"statehelp.{state}"}
    assert used, "no t(...) calls found"
    missing = sorted(k for k in used if k not in en)
    assert not missing, missing
