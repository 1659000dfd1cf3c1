"""Refusals are for people (issue 11 §2): a page shows the API's message, which names the control and
what is allowed; the server setting behind a limit (CONVLENS_…) stays in the JSON `limit` field."""
from __future__ import annotations

import httpx

from tests.conftest import ready


def test_a_refused_layer_says_what_is_allowed_not_which_variable(page, live_server):
    body = {"input": {"kind": "sample", "name": "colour"}, "layer": {"out_channels": 5000}}
    err = httpx.post(live_server + "/api/convolve", json=body, timeout=60).json()["error"]
    assert err["limit"] == "CONVLENS_MAX_CHANNELS"  # for operators and programs
    page.goto(live_server + "/conv?co=5000")
    page.wait_for_function("document.getElementById('layer-message').textContent.includes('at most')")
    shown = page.inner_text("#layer-message")
    assert "output channels is 5,000, but at most 1,024 is allowed" in shown, shown
    assert "CONVLENS" not in page.inner_text("body")
    assert page.locator("#btn-play").is_disabled()
