"""The cost lab in real Chromium: presets, the groups slider, measuring with progress, architectures."""
from __future__ import annotations

from tests.conftest import screenshot


def test_presets_measure_slider_and_tables(page, live_server):
    page.goto(live_server + "/cost")
    page.wait_for_selector("body[data-ready='1']", timeout=20000)
    assert page.inner_text("#params-ratio") == "3.76×" and page.inner_text("#macs-ratio") == "3.76×"
    page.select_option("#preset", "mobilenet_separable")
    page.wait_for_function("document.body.dataset.counted === '2'")
    assert page.inner_text("#macs-ratio") == f"{1 / (1 / 512 + 1 / 9):.2f}×"  # 1/(1/N + 1/k²) = 8.84
    page.select_option("#preset", "seed")
    page.wait_for_function("document.body.dataset.counted === '3'")
    page.fill("#in-h", "14")
    page.fill("#in-w", "14")
    page.dispatch_event("#in-w", "change")
    page.wait_for_function("Number(document.body.dataset.counted) >= 4")
    page.click("#measure")
    page.wait_for_function("document.getElementById('measure-status').textContent === 'done'", timeout=30000)
    assert page.eval_on_selector("#progress", "p => p.value") == 2
    speedup = float(page.inner_text("#speedup").rstrip("×"))
    assert speedup > 1  # the reduced design really runs faster; by how much is measured, not asserted
    page.fill("#g-c", "8")
    page.dispatch_event("#g-c", "input")
    page.eval_on_selector("#g-slider", "s => { s.value = s.max; s.dispatchEvent(new Event('input')); }")
    page.wait_for_function("document.getElementById('g-value').textContent.includes('depthwise')")
    page.wait_for_function("document.getElementById('g-text').dataset.params === String(8 * 1 * 3 * 3)")
    page.select_option("#arch", "mobilenet")
    page.wait_for_function("document.getElementById('arch-summary').textContent.includes('MobileNet')")
    assert page.inner_text("#arch-macs") == "568,740,352"
    page.select_option("#alpha", "0.5")
    page.wait_for_function("document.getElementById('arch-summary').textContent.includes('0.5')")
    screenshot(page, "cost")
    assert page.watch.errors == [] and page.watch.foreign == []


def test_a_bad_design_is_explained(page, live_server):
    page.goto(live_server + "/cost")
    page.wait_for_selector("body[data-ready='1']", timeout=20000)
    page.fill("#design-1", '[{"op": "conv", "out": 8, "k": 99}]')
    page.wait_for_function("document.getElementById('cost-message').textContent.includes('larger than the padded input')")
    page.fill("#design-1", '[{"op": "conv", ')
    page.wait_for_function("document.getElementById('cost-message').textContent.includes('not valid JSON')")
    assert [e for e in page.watch.errors if "422" not in e] == []


def test_number_formatter_boundaries(page, live_server):
    page.goto(live_server + "/cost")
    got = page.evaluate("""async () => { const f = (await import('/static/js/format.js')).formatCount;
        return [999, 1000, 999999, 1000000, 1048576, 278528, 822083584, 1582671872, 0.5].map(f); }""")
    assert got == ["999", "1.00K", "1.00M", "1.00M", "1.05M", "279K", "822M", "1.58G", "0.5"]
