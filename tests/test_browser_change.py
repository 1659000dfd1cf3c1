"""What one control change costs the browser, counted (not timed): issue 11 §3 measures the time in
benchmarks/browser.py; these tests keep the two things that halved it. A change is one request
(POST /api/convolve/view, not a check followed by a run: each round trip took ~10 ms in Chromium on two
cores), and the address bar is written once the change is drawn (history.replaceState kept Chromium's
browser process busy for 7–10 ms while the change's answer was on its way)."""
from __future__ import annotations

import pytest

from tests.conftest import ready

RECORD = """() => {
  window.__urlWrites = [];
  const replace = history.replaceState.bind(history);
  history.replaceState = (...args) => { window.__urlWrites.push(performance.now()); return replace(...args); };
  performance.clearResourceTimings();
}"""
CHANGE = """async ([id, value]) => {
  const hook = window.__convlens, before = hook.loads, el = document.getElementById(id);
  const t0 = performance.now();
  el.value = value;
  el.dispatchEvent(new Event('input', {bubbles: true}));
  while (hook.loads === before) await new Promise((r) => setTimeout(r, 5));
  return {t0, last: hook.last, writes: window.__urlWrites.map((t) => t - t0),
          requests: performance.getEntriesByType('resource').filter((e) => e.startTime >= t0)  // not the last
            .map((e) => new URL(e.name).pathname).filter((p) => p.startsWith('/api/'))};      // load's follow-ups
}"""


@pytest.mark.parametrize("path, control, values, key", [
    ("/conv", "kernel-h", ("5", "3"), "kh=5"),
    ("/pointwise?w=random&co=4", "out-channels", ("5", "4"), "co=5"),
])
def test_a_change_is_one_request_and_the_url_follows_the_drawing(page, live_server, path, control, values, key):
    page.goto(live_server + path)
    ready(page)
    page.evaluate(RECORD)
    change = page.evaluate(CHANGE, [control, values[0]])
    assert change["requests"] == ["/api/convolve/view"]
    assert change["writes"], "the change never reached the URL"
    assert min(change["writes"]) >= change["last"]["painted"], "the URL was written before the change was drawn"
    assert key in page.url
    page.goto(page.url)  # the shared link holds the change
    ready(page)
    assert page.input_value(f"#{control}") == values[0]
    assert page.watch.errors == []


def test_an_invalid_change_is_explained_without_a_failed_request(page, live_server):
    """The view answers an invalid layer 200 with the check's verdict: a 4xx would be a console error."""
    page.goto(live_server + "/conv")
    ready(page)
    page.evaluate(RECORD)
    page.evaluate(CHANGE, ["kernel-h", "200"])
    assert "kernel height is 200" in page.text_content("#layer-message")
    assert page.locator("#btn-play").is_disabled()
    assert "kh=200" in page.url
    page.evaluate(CHANGE, ["kernel-h", "3"])
    assert page.locator("#btn-play").is_enabled()
    assert page.watch.errors == []
