"""Page text that must follow the page's state (issue 11 §1 "stale or contradictory text", §2 layouts)."""
from __future__ import annotations

import pytest

from tests.conftest import ready


@pytest.mark.parametrize("path, preset", [("/conv", "preset:sobel_x"), ("/pointwise", "preset:greyscale")])
def test_the_kaiming_note_shows_only_for_random_weights(page, live_server, path, preset):
    page.goto(live_server + path)
    ready(page)
    note = page.locator("#random-note")
    assert note.is_visible() == (page.input_value("#weights-kind") == "random")  # the page's default
    page.select_option("#weights-kind", "random")
    page.wait_for_function("getComputedStyle(document.getElementById('random-note')).display !== 'none'")
    assert "Kaiming" in note.inner_text()
    page.select_option("#weights-kind", preset)
    page.wait_for_function("getComputedStyle(document.getElementById('random-note')).display === 'none'")
    assert not note.is_visible()
    page.select_option("#weights-kind", "random")  # back to random: the note comes back
    page.wait_for_function("getComputedStyle(document.getElementById('random-note')).display !== 'none'")
    page.goto(live_server + path + "?w=" + preset.replace(":", "%3A"))  # a link that opens on a preset
    ready(page)
    assert not page.locator("#random-note").is_visible()
    assert page.watch.errors == []


@pytest.mark.parametrize("width, height", [(800, 900), (1280, 720), (1400, 900)])
def test_nin_column_titles_do_not_overlap(page, live_server, width, height):
    page.set_viewport_size({"width": width, "height": height})
    page.goto(live_server + "/pointwise?nw=16%2C8%2C4")  # the widest stack: 4 columns
    ready(page)
    page.wait_for_function("document.querySelectorAll('#nin-diagram .nin-title').length === 4", timeout=30000)
    page.locator("#nin-diagram").scroll_into_view_if_needed()
    boxes = page.eval_on_selector_all("#nin-diagram .nin-title", "ts => ts.map(t => { const r = t.getBoundingClientRect(); "
                                      "return [r.left, r.right, r.top, r.bottom]; })")
    svg = page.eval_on_selector("#nin-diagram svg", "s => { const r = s.getBoundingClientRect(); "
                                "return [r.left, r.right, r.width / s.viewBox.baseVal.width]; }")
    for (l1, r1, t1, b1), (l2, r2, t2, b2) in zip(boxes, boxes[1:]):
        assert r1 <= l2, f"titles overlap: {r1:.0f} > {l2:.0f}"
    assert all(svg[0] <= l and r <= svg[1] for l, r, _, _ in boxes)  # none spills out of the drawing
    assert abs(svg[2] - 1) < 0.02  # drawn at its shown size: 12-px titles stay 12 px
    labels = page.eval_on_selector_all("#nin-diagram .nin-title, #nin-diagram circle",
                                       "es => es.map(e => { const r = e.getBoundingClientRect(); return [e.tagName, r.top, r.bottom]; })")
    title_bottom = max(b for tag, _, b in labels if tag == "text")
    assert all(top >= title_bottom for tag, top, _ in labels if tag == "circle")  # neurons below the titles
    page.screenshot(path=f"artifacts/pointwise-nin-{width}.png", full_page=False)
