"""Refusals are for people (issue 11 §2): a page shows the API's message, which names the control and
what is allowed; the server setting behind a limit (CONVLENS_…) stays in the JSON `limit` field."""
from __future__ import annotations

import httpx
import pytest

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


# A number typed by hand that its field does not allow: the shell skips it (it could be mid-typing), so the
# page used to keep its old numbers under an "ok" status and say nothing. static/js/field_check.js names
# the control and what is allowed, and the status clears once the value is allowed again.
BAD_NUMBERS = [  # (page, field, a value it does not allow, the message, a value it allows)
    ("/network?ik=test", "test-index", "359", "test image must be a whole number from 0 to 358 (you typed 359)", "3"),
    ("/network?ik=test", "test-index", "2.5", "test image must be a whole number from 0 to 358 (you typed 2.5)", "3"),
    ("/cost", "in-h", "5000", "input H must be a whole number from 1 to 4,096 (you typed 5000)", "28"),
    ("/pointwise", "fc-k", "0", "block k must be a whole number from 1 to 16 (you typed 0)", "5"),
    ("/transposed", "stride", "9", "stride must be a whole number from 1 to 8 (you typed 9)", "2"),
    ("/conv", "kernel-h", "-1", "kernel H must be a whole number of at least 1 (you typed -1)", "3"),
]


@pytest.mark.parametrize("path, field, bad, message, good", BAD_NUMBERS)
def test_a_number_the_field_does_not_allow_is_named_with_what_is_allowed(page, live_server, path, field, bad, message, good):
    page.goto(live_server + path)
    ready(page)
    page.fill(f"#{field}", bad)
    page.press(f"#{field}", "Enter")
    page.wait_for_function("document.getElementById('layer-message').textContent.includes('must be')")
    assert page.inner_text("#layer-message").strip() == message + "."
    assert page.get_attribute(f"#{field}", "aria-invalid") == "true"
    before = page.inner_text("#layer-message")
    page.fill(f"#{field}", good)
    page.wait_for_function("!document.getElementById('layer-message').textContent.includes('must be')")
    assert page.inner_text("#layer-message") != before
    assert page.get_attribute(f"#{field}", "aria-invalid") is None
    assert page.watch.errors == []
