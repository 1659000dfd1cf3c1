"""Every page, at 1400×900, 1280×720 and 800×900: no console error, no request off the origin, no
sideways scroll, no text under 11 px, and axe-core clean of serious and critical violations."""
from __future__ import annotations

import pytest

from conftest import PageWatch, screenshot
from quality import VIEWPORTS, quality_problems

# Pages join this list as they meet every check (each page's own tests cover its behaviour).
PAGES = ["/", "/learn", "/pointwise", "/glossary", "/docs", "/redoc", "/conv", "/transposed", "/cost", "/receptive", "/network"]


@pytest.mark.parametrize("path", PAGES)
@pytest.mark.parametrize("width,height", VIEWPORTS)
def test_page_quality(browser, live_server, path, width, height):
    ctx = browser.new_context(viewport={"width": width, "height": height}, bypass_csp=True)
    try:
        page = ctx.new_page()
        watch = PageWatch(page, live_server)
        page.goto(live_server + path)
        page.wait_for_load_state("networkidle")
        if page.evaluate("() => 'ready' in document.body.dataset || !!document.querySelector('[data-ready]')"):
            page.wait_for_function("Number(document.body.dataset.ready || 1) >= 1", timeout=20000)
        screenshot(page, f"quality{path.replace('/', '_') or '_home'}_{width}x{height}")
        assert quality_problems(page) == []
        assert watch.errors == [] and watch.foreign == []
    finally:
        ctx.close()
