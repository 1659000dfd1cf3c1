"""The receptive-field page in real Chromium: layers step, 1×1 layers visibly leave the field alone,
a click on the picture moves the followed point, and a user stack runs."""
from __future__ import annotations

import json

import httpx

from tests.conftest import ready, screenshot


def boxes(page) -> dict:
    """The drawn boxes as fractions of the picture: {class: [top, left, height, width]}."""
    return page.evaluate("""() => Object.fromEntries([...document.querySelectorAll('#rf-overlay > div')].map(
        d => [d.className, ['top', 'left', 'height', 'width'].map(k => parseFloat(d.style[k]))]))""")


def test_googlenet_stem_grows_and_one_by_one_layers_do_not(page, live_server):
    page.goto(live_server + "/receptive")
    ready(page)
    api = httpx.post(live_server + "/api/receptive", json={"input": {"kind": "sample", "name": "colour"}}).json()
    assert page.locator("#rf-table tr[data-i]").count() == len(api["rows"])
    assert page.locator("#position-label").text_content().startswith(f"1/{len(api['rows'])} · convolution 7×7/2")
    page.keyboard.press("ArrowRight")  # max pool 3×3/2: 7 → 11
    grown = boxes(page)
    assert grown["rf-now"][2] > grown["rf-before"][2]
    page.keyboard.press("ArrowRight")  # the 1×1 of the 3×3/1 block: the same field
    assert "Unchanged" in page.locator("#rf-text").text_content()
    same = boxes(page)
    assert same["rf-now"] == same["rf-before"]
    h = 96  # the colour sample is 96×128: the drawn box is the API's box
    top, _, height, _ = same["rf-now"]
    row = api["rows"][2]
    assert round(top * h / 100) == row["box"][0] and round(height * h / 100) == row["box"][2] - row["box"][0] + 1
    for w, hh in ((1400, 900), (1280, 720), (800, 900)):
        page.set_viewport_size({"width": w, "height": hh})
        screenshot(page, f"receptive_{w}x{hh}")


def test_click_moves_the_point_and_a_user_stack_runs(page, live_server):
    page.goto(live_server + "/receptive")
    ready(page)
    canvas = page.locator("#rf-canvas")
    canvas.scroll_into_view_if_needed()
    b = canvas.bounding_box()
    page.mouse.click(b["x"] + b["width"] * 10.5 / 128, b["y"] + b["height"] * 20.5 / 96)
    ready(page, 2)
    assert "pr=20" in page.url and "pc=10" in page.url
    stack = {"name": "mine", "layers": [{"op": "conv", "out": 2, "k": 5, "padding": 2}, {"op": "conv", "out": 2, "k": 1}]}
    page.select_option("#network", "custom")
    ready(page, 3)
    page.fill("#custom-stack", json.dumps(stack))
    page.click("#custom-apply")
    ready(page, 4)
    assert page.locator("#rf-table tr[data-i]").count() == 2
    assert "unchanged" in page.locator("#rf-table").inner_text()


def test_the_status_says_the_walk_is_over_this_input_not_the_papers(page, live_server):
    """It read "GoogLeNet (Inception v1), 224×224 on the input [3×96×128]" (a contradiction to a newcomer)
    and "MobileNet-v1 1 × 224" (a width multiplier and a resolution, unnamed)."""
    page.goto(live_server + "/receptive?n=mobilenet")
    ready(page)
    api = httpx.post(live_server + "/api/receptive", json={"input": {"kind": "sample", "name": "colour"},
                                                            "network": "mobilenet"}).json()
    assert api["network"] == "MobileNet-v1 (width α = 1), 224×224"
    assert page.inner_text("#layer-message").strip() == (
        f"{len(api['rows'])} layers of MobileNet-v1 (width α = 1), 224×224 (the paper's input size), "
        "walked over this input [3×96×128]")


def test_a_stack_that_is_not_json_is_explained_and_a_stack_names_no_paper(page, live_server):
    """Applying text that is not JSON came back as "layers (design.layers) is 'not JSON'; it must be a list";
    and the status called a user's stack's size "the paper's input size"."""
    page.goto(live_server + "/receptive?n=custom")
    ready(page)
    status = page.inner_text("#layer-message")
    assert status.endswith("layers of my stack, walked over this input [3×96×128]"), status
    page.fill("#custom-stack", "conv 3")
    page.click("#custom-apply")
    page.wait_for_function("document.getElementById('layer-message').textContent.includes('not valid JSON')")
    shown = page.inner_text("#layer-message")
    assert shown.startswith("my own stack is not valid JSON (") and "'not JSON'" not in shown
    assert "error" in page.get_attribute("#layer-message", "class")


def test_a_bad_value_in_my_own_stack_is_named_by_its_layer_not_its_json_path(page, live_server):
    """A kernel of 0 in my own stack said "k (design.layers[0].conv.k) is 0; …", pydantic's path through
    the request; an empty stack said "List should have at least 1 item after validation, not 0". The page
    says which layer (and branch) of my own stack, in the API's words for what is allowed."""
    page.goto(live_server + "/receptive?n=custom")
    ready(page)
    cases = [
        ([{"op": "conv", "out": 16, "k": 0}], "k of layer 1 (conv) in my own stack is 0; it must be a whole number ≥ 1"),
        ([{"op": "conv", "out": 8, "k": 3}, {"op": "concat", "branches": [[{"op": "conv", "out": 4, "k": 1}], [{"op": "pool", "k": 0}]]}],
         "k of layer 1 (pool) of branch 2 of layer 2 (concat) in my own stack is 0"),
        ([{"op": "conv", "k": 3}], "out of layer 1 (conv) in my own stack is required"),
        ([], "my own stack has no layers: add at least one"),
    ]
    for layers, said in cases:
        page.fill("#custom-stack", json.dumps({"name": "s", "layers": layers}))
        page.click("#custom-apply")
        page.wait_for_function("document.getElementById('layer-message').className.includes('error')")
        shown = page.inner_text("#layer-message")
        assert shown.startswith(said) and "design." not in shown, shown
        page.fill("#custom-stack", json.dumps({"name": "s", "layers": [{"op": "conv", "out": 4, "k": 3}]}))
        page.click("#custom-apply")
        page.wait_for_function("!document.getElementById('layer-message').className.includes('error')")
