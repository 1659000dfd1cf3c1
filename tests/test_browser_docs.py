"""/docs (Swagger UI) and /redoc (ReDoc) served from static/vendor under the app's own CSP: every operation
of the schema is shown, nothing is requested off the origin, and no script is inline."""
from __future__ import annotations

import re
from html.parser import HTMLParser
from pathlib import Path

import pytest

from conftest import ROOT, screenshot
from quality import quality_problems

METHODS = {"get", "put", "post", "delete", "patch", "head", "options", "trace"}


def operations(schema: dict) -> set[tuple[str, str]]:
    """(METHOD, path) of every operation in an OpenAPI schema."""
    return {(m.upper(), path) for path, item in schema["paths"].items() for m in item if m in METHODS}


def operation_ids(schema: dict) -> set[str]:
    return {op["operationId"] for item in schema["paths"].values() for m, op in item.items() if m in METHODS}


class _Scripts(HTMLParser):
    def __init__(self):
        super().__init__()
        self.scripts: list[dict] = []
        self._open: dict | None = None

    def handle_starttag(self, tag, attrs):
        if tag == "script":
            self._open = {"src": dict(attrs).get("src"), "text": ""}
            self.scripts.append(self._open)

    def handle_data(self, data):
        if self._open is not None:
            self._open["text"] += data

    def handle_endtag(self, tag):
        if tag == "script":
            self._open = None


@pytest.mark.parametrize("path", ["/docs", "/redoc"])
def test_doc_pages_have_no_inline_script_and_load_only_our_files(client, path):
    r = client.get(path)
    assert r.status_code == 200 and r.headers["content-type"].startswith("text/html")
    parser = _Scripts()
    parser.feed(r.text)
    assert parser.scripts, "the page loads its viewer"
    for s in parser.scripts:
        assert s["src"] and s["src"].startswith("/static/") and not s["text"].strip(), s
    assert not re.search(r"""(?:src|href)=["'](?:https?:)?//""", r.text), "no asset from another origin"
    script_src = re.search(r"script-src ([^;]*)", r.headers["content-security-policy"]).group(1)
    assert "'unsafe-inline'" not in script_src and "http" not in script_src
    for url in re.findall(r"""(?:src|href)=["'](/static/[^"']+)""", r.text):
        assert client.get(url).status_code == 200, url


def test_blob_workers_are_allowed_on_redoc_only(client):
    assert "worker-src 'self' blob:" in client.get("/redoc").headers["content-security-policy"]
    for path in ["/docs", "/", "/openapi.json"]:
        assert "blob:" not in re.search(r"script-src ([^;]*)", client.get(path).headers["content-security-policy"]).group(1)
        assert "worker-src" not in client.get(path).headers["content-security-policy"]


def test_vendored_doc_viewers_match_their_pins():
    """scripts/vendor-js pins each package; the files in static/vendor are those releases."""
    script = (ROOT / "scripts" / "vendor-js").read_text()
    pin = lambda name: re.search(rf'^{name}="([\d.]+)"', script, re.M).group(1)
    vendor = ROOT / "static" / "vendor"
    swagger = (vendor / "swagger-ui" / "swagger-ui-bundle.js").read_text(encoding="utf-8")
    assert f'PACKAGE_VERSION:"{pin("swagger")}"' in swagger
    redoc = (vendor / "redoc" / "redoc.standalone.js").read_text(encoding="utf-8")
    assert f'" ReDoc Version: ","{pin("redoc")}"' in redoc
    assert "cdn.redoc.ly" not in redoc  # the one CDN image is patched out by scripts/vendor-js


def test_swagger_ui_shows_every_operation_and_stays_on_the_origin(page, live_server):
    schema = page.request.get(live_server + "/openapi.json").json()
    page.goto(live_server + "/docs")
    page.wait_for_function("document.body.dataset.ready === '1'", timeout=20000)
    page.wait_for_selector(".opblock")
    shown = {tuple(x) for x in page.eval_on_selector_all(
        ".opblock .opblock-summary",
        "els => els.map(e => [e.querySelector('.opblock-summary-method').textContent.trim(),"
        " e.querySelector('.opblock-summary-path').dataset.path])")}
    assert shown == operations(schema) and len(shown) >= 15
    screenshot(page, "docs_swagger")
    # "Try it out" really runs a request from this page, under the CSP (connect-src 'self').
    block = page.locator(".opblock", has=page.locator("[data-path='/healthz']"))
    block.locator(".opblock-summary").click()
    block.get_by_role("button", name="Try it out").click()
    block.get_by_role("button", name="Execute").click()
    body = block.locator(".responses-wrapper .live-responses-table .response-col_description pre").first
    body.wait_for(timeout=10000)
    assert '"status": "ok"' in body.text_content()
    assert page.watch.errors == [] and page.watch.foreign == []


def test_redoc_renders_every_operation_and_stays_on_the_origin(page, live_server):
    schema = page.request.get(live_server + "/openapi.json").json()
    page.goto(live_server + "/redoc")
    page.wait_for_selector("[data-section-id^='operation/']", timeout=20000)
    page.wait_for_load_state("networkidle")
    shown = set(page.eval_on_selector_all(
        "[data-section-id^='operation/']", "els => els.map(e => e.dataset.sectionId.slice('operation/'.length))"))
    assert shown == operation_ids(schema)
    assert page.get_by_role("heading", name=re.compile(r"convlens \(")).is_visible()
    page.get_by_placeholder("Search...").fill("convolve")  # the index lives in ReDoc's blob: worker
    summary = schema["paths"]["/api/convolve"]["post"]["summary"]
    page.locator("[data-role='search:results']", has_text=summary).wait_for(timeout=10000)
    screenshot(page, "docs_redoc")
    assert page.watch.errors == [] and page.watch.foreign == []


def test_swagger_ui_stays_accessible_while_trying_a_request(browser, live_server):
    """axe-core, small text and sideways scroll after opening an operation, "Try it out" and "Execute":
    the request-body editor is labelled, code samples are keyboard-reachable and readable."""
    ctx = browser.new_context(viewport={"width": 1280, "height": 720}, bypass_csp=True)  # axe is injected inline
    try:
        page = ctx.new_page()
        page.goto(live_server + "/docs")
        page.wait_for_selector(".opblock")
        block = page.locator(".opblock", has=page.locator("[data-path='/api/convolve']"))
        block.locator(".opblock-summary").click()
        block.get_by_role("button", name="Try it out").click()
        block.get_by_role("button", name="Execute").click()
        block.locator(".live-responses-table").wait_for(timeout=15000)
        assert block.get_by_label("Request body (JSON)").is_visible()
        screenshot(page, "docs_swagger_try_it_out")
        assert quality_problems(page) == []
    finally:
        ctx.close()


def test_the_api_overview_names_every_group_of_operations(client):
    """The overview at the top of /docs listed the API as it was before /api/transposed, /api/receptive and
    /api/comparisons existed: a reader of /docs was told of 9 of the 14 groups of paths."""
    schema = client.get("/openapi.json").json()
    groups = {"/".join(p.split("/")[:3]) for p in schema["paths"]}
    overview = schema["info"]["description"]
    assert sorted(g for g in groups if f"{g}`" not in overview and f"{g}/" not in overview) == []
