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
