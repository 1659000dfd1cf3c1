"""What every page must satisfy for a newcomer, checked in real Chromium: axe-core finds no serious or
critical violation, nothing scrolls sideways, no visible text is smaller than 11 CSS px.

axe-core is vendored for the tests only (tests/vendor/axe.min.js, scripts/vendor-axe); the app never
serves it. It is injected as a script tag's text, which the app's CSP would block, so these checks run
in a browser context created with ``bypass_csp=True``; the CSP itself is tested elsewhere.
"""
from __future__ import annotations

from pathlib import Path

AXE = (Path(__file__).parent / "vendor" / "axe.min.js").read_text()
VIEWPORTS = [(1400, 900), (1280, 720), (800, 900)]
MIN_FONT_PX = 11

_SMALL_TEXT = """(min) => {
  const out = [];
  const walker = document.createTreeWalker(document.body, NodeFilter.SHOW_TEXT);
  while (walker.nextNode()) {
    const node = walker.currentNode, el = node.parentElement;
    if (!el || !node.textContent.trim()) continue;
    const st = getComputedStyle(el), box = el.getBoundingClientRect();
    if (st.visibility === 'hidden' || st.display === 'none' || box.width === 0 || box.height === 0) continue;
    if (el.closest('[hidden], [aria-hidden="true"]')) continue;
    const px = parseFloat(st.fontSize);
    if (px < min) out.push(`${px}px: ${el.tagName.toLowerCase()}${el.id ? '#' + el.id : ''} "${node.textContent.trim().slice(0, 40)}"`);
  }
  return out;
}"""

# SVG text inside Plotly figures is measured too: tick labels under 11 px are unreadable on a laptop.


def axe_violations(page, impacts=("serious", "critical")) -> list[str]:
    """Run axe-core on the page as it is now; one line per violation of the given impacts."""
    if not page.evaluate("() => !!window.axe"):
        page.add_script_tag(content=AXE)
    result = page.evaluate("async () => await axe.run(document, {resultTypes: ['violations']})")
    return [f"{v['impact']}: {v['id']} ({v['help']}) at {[n['target'] for n in v['nodes']][:3]}"
            for v in result["violations"] if v["impact"] in impacts]


def horizontal_overflow_px(page) -> int:
    """How far the page scrolls sideways (0 when it fits its viewport)."""
    return page.evaluate("() => document.documentElement.scrollWidth - document.documentElement.clientWidth")


def small_text(page, min_px: int = MIN_FONT_PX) -> list[str]:
    """Visible text nodes (HTML and SVG) whose computed font size is below min_px."""
    return page.evaluate(_SMALL_TEXT, min_px)


def fieldsets_wider_than_their_column(page) -> list[str]:
    """Fieldsets stretch to their widest content (min-width: min-content), so a long option, e.g. a model
    layer's activation named in the input picker, pushed /conv's controls under its plots."""
    return page.evaluate("""() => [...document.querySelectorAll('fieldset')]
        .filter((f) => f.offsetParent && f.getBoundingClientRect().right > f.parentElement.getBoundingClientRect().right + 1)
        .map((f) => (f.querySelector('legend')?.textContent || f.id || 'fieldset').trim())""")


def quality_problems(page) -> list[str]:
    """All of the above as one list of readable problems (empty when the page passes)."""
    problems = [f"axe {v}" for v in axe_violations(page)]
    over = horizontal_overflow_px(page)
    if over > 0:
        problems.append(f"scrolls sideways by {over}px")
    problems += [f"small text {t}" for t in small_text(page)[:10]]
    problems += [f"fieldset '{t}' wider than its column" for t in fieldsets_wider_than_their_column(page)]
    return problems
