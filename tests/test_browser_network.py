"""/network in real Chromium: the built-in model opens on a prediction, drawing a digit changes it, and
the table's totals are the API's."""
from __future__ import annotations

import httpx
import pytest

from tests.conftest import ready, screenshot


def loads(page) -> int:
    return int(page.evaluate("Number(document.body.dataset.ready || 0)"))


def probabilities(page) -> list[str]:
    return page.eval_on_selector_all("#prediction .cls .v", "els => els.map(e => e.textContent)")


def draw(page, strokes):
    """Strokes in pad coordinates 0..256, drawn with the mouse."""
    page.eval_on_selector("#pad", "c => c.scrollIntoView({block: 'center'})")
    box = page.eval_on_selector("#pad", "c => { const r = c.getBoundingClientRect(); return {x: r.left, y: r.top, s: r.width / 256}; }")
    for pts in strokes:
        page.mouse.move(box["x"] + pts[0][0] * box["s"], box["y"] + pts[0][1] * box["s"])
        page.mouse.down()
        for x, y in pts[1:]:
            page.mouse.move(box["x"] + x * box["s"], box["y"] + y * box["s"], steps=6)
        page.mouse.up()


def test_drawing_a_digit_changes_the_prediction(page, live_server):
    page.goto(live_server + "/network")
    ready(page)
    before = probabilities(page)
    assert len(before) == 10 and page.get_attribute("#prediction", "data-top") is not None
    page.click("#pad-clear")
    n = loads(page)
    draw(page, [[(128, 40), (128, 220)]])  # a one
    ready(page, n + 1)
    after = probabilities(page)
    assert after != before
    assert page.watch.errors == [] and page.watch.foreign == []
    screenshot(page, "network_drawn_1400")


def test_table_totals_are_the_apis(page, live_server):
    page.goto(live_server + "/network?ik=test&ti=3")
    ready(page)
    api = httpx.get(live_server + "/api/models/digits").json()
    foot = page.eval_on_selector_all("#cost-table tfoot td[data-value]", "tds => tds.map(t => Number(t.dataset.value))")
    assert foot == [api["totals"]["params"], api["totals"]["macs"]]
    rows = page.eval_on_selector_all("#cost-table tbody tr", "trs => trs.length")
    assert rows == len(api["layers"])
    assert page.eval_on_selector_all("#cost-table tbody tr.pw", "trs => trs.length") == sum(r["is_1x1"] for r in api["layers"])
    run = httpx.post(live_server + "/api/models/digits/run", json={"input": {"kind": "test_image", "index": 3}}).json()
    assert page.get_attribute("#prediction", "data-top") == run["prediction"]["classes"][run["prediction"]["top"]]


@pytest.mark.parametrize("width,height", [(1400, 900), (1280, 720), (800, 900)])
def test_screenshots(browser, live_server, width, height):
    ctx = browser.new_context(viewport={"width": width, "height": height})
    try:
        pg = ctx.new_page()
        pg.goto(live_server + "/network")
        pg.wait_for_load_state("networkidle")
        ready(pg)
        screenshot(pg, f"network_{width}x{height}")
    finally:
        ctx.close()
