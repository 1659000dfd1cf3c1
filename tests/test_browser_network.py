"""/network in real Chromium: the built-in model opens on a prediction, drawing a digit changes it, and
the table's totals are the API's."""
from __future__ import annotations


import httpx
import pytest

from tests.conftest import page_at, ready, screenshot


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
    with page_at(browser, live_server, width, height) as pg:
        pg.goto(live_server + "/network")
        pg.wait_for_load_state("networkidle")
        ready(pg)
        screenshot(pg, f"network_{width}x{height}")


def test_click_a_1x1_layer_opens_pointwise_with_its_real_weights(page, live_server):
    from urllib.parse import parse_qs, urlparse

    import numpy as np

    from app.encoding import decode_array
    from app.models.onnx_import import parse_model
    from app.models.service import BUILTIN_DIR
    from app.settings import Settings

    page.goto(live_server + "/network?ik=test&ti=4")
    ready(page)
    rows = httpx.get(live_server + "/api/models/digits").json()["layers"]
    row = next(r for r in rows if r["is_1x1"] and r["bn_folded"])
    page.click(f'button.open-layer[data-layer="{row["name"]}"]')
    page.wait_for_url("**/pointwise?**")
    ready(page)
    assert page.watch.errors == []
    screenshot(page, "network_to_pointwise")
    pm = parse_model((BUILTIN_DIR / "digits.onnx").read_bytes(), Settings())
    w = pm.consts[next(n for n in pm.nodes if n.name == row["name"]).inputs[1]]
    q = parse_qs(urlparse(page.url).query)
    assert q["w"] == [f"layer:digits:{row['name']}"]
    run_id = httpx.post(live_server + "/api/models/digits/run", json={"input": {"kind": "test_image", "index": 4}}).json()["input"]["id"]
    assert q["in"] == [f"activation:digits:{run_id}:{row['name']}"]  # named, not a stored copy
    page.wait_for_function("document.querySelector('#weights-kind').selectedOptions[0].textContent.includes('BN folded')")
    label = page.eval_on_selector("#weights-kind", "s => s.options[s.selectedIndex].textContent")
    assert label == f"layer {row['name']} of digits (BN folded)"  # the select names the layer the page runs
    picked = page.eval_on_selector("#input-kind", "s => s.options[s.selectedIndex].textContent")
    assert picked.startswith(f"activation of layer {row['name']} of model digits for input {run_id[:8]}")
    # what the page runs: its input (the layer's real activation) and the layer's weights
    body = {"input": {"kind": "activation", "model": "digits", "layer": row["name"], "input": run_id},
            "layer": {"kernel_size": 1}, "weights": {"kind": "layer", "model": "digits", "layer": row["name"]},
            "include_input": True}
    res = httpx.post(live_server + "/api/convolve", json=body).json()
    np.testing.assert_array_equal(decode_array(res["weight"]).reshape(w.shape), w)  # exactly the initializer (BN folded)
    act = httpx.post(live_server + "/api/models/digits/activation", json={
        "input": {"kind": "test_image", "index": 4}, "tensor": row["inputs"][0], "encoding": "base64"}).json()
    np.testing.assert_array_equal(decode_array(res["input_array"]), decode_array(act["activation"]))
    page.reload()  # a shared link or a reload restores both and names them again
    ready(page)
    assert page.eval_on_selector("#input-kind", "s => s.value") == "activation"
    page.wait_for_function("document.querySelector('#weights-kind').selectedOptions[0].textContent.includes('BN folded')")
    shown = page.eval_on_selector("#layer-message", "e => e.className")
    assert "error" not in shown


def test_an_uploaded_photo_of_a_digit_is_converted_by_the_server_and_shown(page, live_server, tmp_path):
    """A photo (dark ink on light paper, off-centre) through the page's image input: the server converts it,
    the page shows the converted 32×32 input and the API's prediction for it, and a reload restores it."""
    import numpy as np

    from app.models.service import builtin_test_set
    from tests.test_network_image_input import on_paper, png

    images, labels = builtin_test_set("digits")
    k = int(np.flatnonzero(labels == 2)[0])
    path = tmp_path / "two.png"
    path.write_bytes(png(on_paper(images[k])))
    page.goto(live_server + "/network")
    ready(page)
    n = loads(page)
    page.set_input_files("#image-file", str(path))  # the upload itself switches the input to the image
    page.wait_for_function("new URL(location.href).searchParams.get('im')")
    ready(page, n + 1)
    image_id = page.evaluate("new URL(location.href).searchParams.get('im')")
    run = httpx.post(live_server + "/api/models/digits/run", json={"input": {"kind": "image", "id": image_id}}).json()
    assert page.get_attribute("#prediction", "data-top") == run["prediction"]["classes"][run["prediction"]["top"]] == "2"
    assert page.is_visible("#model-input") and page.is_hidden("#pad-box")
    assert "32×32" in page.text_content("#model-input-caption")
    # the canvas shows the server's tensor: its pixels are the converted input's grey levels
    from app.encoding import decode_array
    shown = np.array(page.evaluate("""() => { const c = document.getElementById('model-input');
        return Array.from(c.getContext('2d').getImageData(0, 0, c.width, c.height).data).filter((_, i) => i % 4 === 0); }"""))
    want = np.rint(255 * decode_array(run["input_preview"])[0].reshape(-1))
    np.testing.assert_array_equal(shown, want)
    page.reload()
    ready(page)
    assert page.eval_on_selector("#input-kind", "s => s.value") == "image"
    assert page.get_attribute("#prediction", "data-top") == "2"
    assert page.watch.errors == [] and page.watch.foreign == []
    screenshot(page, "network_photo_1400")


@pytest.mark.parametrize("width,height", [(1400, 900), (800, 900)])
def test_click_a_3x3_layer_opens_conv_on_its_activation_named_in_the_picker(browser, live_server, width, height):
    """A 3×3 convolution deeper in the model: /conv opens on the activation it reads (input kind
    "activation") with its weights (kind "layer"), both named in their selects, no sideways scroll."""
    from tests.conftest import page_at
    from tests.quality import quality_problems

    rows = httpx.get(live_server + "/api/models/digits").json()["layers"]
    row = next(r for r in rows if r["op"] == "Conv" and r["kernel"] == [3, 3] and r["in_shape"][1] > 1)
    with page_at(browser, live_server, width, height, bypass_csp=True) as page:  # axe is injected
        page.goto(live_server + "/network?ik=test&ti=7")
        ready(page)
        page.click(f'button.open-layer[data-layer="{row["name"]}"]')
        page.wait_for_url("**/conv?**")
        ready(page)
        picked = page.eval_on_selector("#input-kind", "s => s.options[s.selectedIndex].textContent")
        assert picked.startswith(f"activation of layer {row['name']} of model digits")
        label = page.eval_on_selector("#weights-kind", "s => s.options[s.selectedIndex].textContent")
        assert label.startswith(f"layer {row['name']} of digits")
        assert "error" not in page.eval_on_selector("#layer-message", "e => e.className")
        assert page.watch.errors == [] and quality_problems(page) == []
        screenshot(page, f"network_to_conv_{width}x{height}")


def test_the_roofline_chart_plots_every_layer_under_the_servers_measured_roofs(page, live_server):
    """The chart's roof is the API's (measured once by this server process, never written in the page) and
    it has one point per layer with MACs, the 1×1 layers as their own marked trace."""
    page.goto(live_server + "/network?ik=test&ti=2")
    ready(page)
    page.wait_for_function("document.getElementById('roofline-chart').data?.length === 3")
    traces = page.evaluate("""() => document.getElementById('roofline-chart').data.map((t) => ({
        name: t.name, x: Array.from(t.x), y: Array.from(t.y), symbol: t.marker?.symbol ?? null }))""")
    run = httpx.post(live_server + "/api/models/digits/run", json={"input": {"kind": "test_image", "index": 2}}).json()
    rows = httpx.get(live_server + "/api/models/digits").json()["layers"]
    roof = run["roofline"]  # one worker: the same process, so the same measurement
    assert traces[0]["x"] == [p[0] for p in roof["curve"]]
    assert traces[0]["y"] == pytest.approx([p[1] / 1e9 for p in roof["curve"]])
    pw = [r for r in rows if r["is_1x1"] and r["macs"]]
    other = [r for r in rows if not r["is_1x1"] and r["macs"]]
    assert traces[2]["symbol"] == "diamond" and traces[2]["x"] == pytest.approx([r["macs_per_byte"] for r in pw])
    assert traces[1]["x"] == pytest.approx([r["macs_per_byte"] for r in other])
    note = page.text_content("#roofline-note")
    assert f"{roof['ridge_macs_per_byte']:.2f} MACs per byte" in note and f"{roof['peak_macs_per_s'] / 1e9:.1f} GMAC/s" in note
    bounds = page.eval_on_selector_all("#cost-table tbody tr", "trs => trs.map(tr => tr.cells[10].textContent)")
    assert [b or None for b in bounds] == [("memory" if r["macs_per_byte"] < roof["ridge_macs_per_byte"] else "compute")
                                           if r["macs"] else None for r in rows]


def test_the_table_downloads_as_a_netron_metrics_attachment(page, live_server):
    """Netron 9.x (metadata.Attachment in its view.js) reads a .json whose signature is "netron:attachment"
    opened over a model, items {kind, target, name, value}; "node" items attach to the node named target."""
    import json

    import onnx

    from app.models.service import BUILTIN_DIR

    page.goto(live_server + "/network?ik=test&ti=6")
    ready(page)
    with page.expect_download() as dl:
        page.click("#download-netron")
    assert dl.value.suggested_filename.endswith(".metrics.json")
    doc = json.loads(open(dl.value.path()).read())
    assert doc["signature"] == "netron:attachment" and set(doc) == {"signature", "metadata", "metrics"}
    for item in doc["metrics"] + doc["metadata"]:
        assert set(item) == {"kind", "target", "name", "value"} and item["kind"] in ("model", "node")
        assert "\n" not in item["target"]  # Netron matches a target up to its first newline
    detail = httpx.get(live_server + "/api/models/digits").json()
    model = {m["name"]: m["value"] for m in doc["metrics"] if m["kind"] == "model"}
    assert model["params"] == detail["totals"]["params"] and model["macs"] == detail["totals"]["macs"]
    assert model["flops"] == 2 * detail["totals"]["macs"]
    nodes: dict[str, dict] = {}
    for m in doc["metrics"]:
        if m["kind"] == "node":
            nodes.setdefault(m["target"], {})[m["name"]] = m["value"]
    assert list(nodes) == [r["name"] for r in detail["layers"]]
    for r in detail["layers"]:
        n = nodes[r["name"]]
        assert (n["params"], n["macs"], n["bytes_read"], n["bytes_written"]) == (r["params"], r["macs"], r["bytes_read"], r["bytes_written"])
    assert sum(n["time_ms"] for n in nodes.values()) == pytest.approx(model["time_ms"])
    # the targets are the file's own node names, which is what Netron shows and matches
    names = {n.name for n in onnx.load_from_string((BUILTIN_DIR / "digits.onnx").read_bytes()).graph.node}
    assert set(nodes) <= names
    folded = {m["target"] for m in doc["metadata"] if m["name"] == "convlens op" and "(BN folded)" in m["value"]}
    assert folded == {r["name"] for r in detail["layers"] if r["bn_folded"]}


def test_receptive_offers_an_uploaded_model_and_walks_it(page, live_server):
    """A model uploaded on /network is a choice on /receptive (GET /api/models), and a link naming it
    restores it: the page walks that model's graph (its rows are the API's for it)."""
    import torch

    from tests.onnx_models import build, export

    data = export(build("inception"), torch.randn(1, 3, 32, 32))
    info = httpx.post(live_server + "/api/models/upload", files={"file": ("incep.onnx", data)}).json()
    page.goto(live_server + "/receptive")
    ready(page)
    page.wait_for_function(f"!!document.querySelector('#network option[value=\"model:{info['id']}\"]')")
    n = loads(page)
    page.select_option("#network", f"model:{info['id']}")
    ready(page, n + 1)
    api = httpx.post(live_server + "/api/receptive", json={"input": {"kind": "sample", "name": "colour"},
                                                           "model": info["id"]}).json()
    assert page.locator("#rf-table tr[data-i]").count() == len(api["rows"]) > 3
    page.reload()
    ready(page)
    page.wait_for_function(f"document.getElementById('network').value === 'model:{info['id']}'")
    assert page.locator("#rf-table tr[data-i]").count() == len(api["rows"])
    assert page.watch.errors == []


def upload_mobilenet_block(live_server) -> dict:
    """A MobileNet-v2 inverted residual (tests/onnx_models.py), exported by torch and uploaded: its info."""
    import torch

    from tests.onnx_models import build, export

    data = export(build("mobilenet_v2"), torch.randn(1, 3, 32, 32))
    return httpx.post(live_server + "/api/models/upload", files={"file": ("mnv2.onnx", data)}).json()


def test_an_uploaded_model_opens_cleanly_and_its_layer_opens_on_conv(page, live_server):
    """A user's own (static-size) ONNX file: the page opens it with no failed request in the console, and a
    layer's button opens /conv on that layer's activation with its weights, which the page runs."""
    info = upload_mobilenet_block(live_server)
    page.goto(live_server + f"/network?m={info['id']}")
    ready(page)
    assert page.is_hidden("#size-box") and page.watch.errors == []
    rows = httpx.get(live_server + f"/api/models/{info['id']}").json()["layers"]
    row = next(r for r in rows if r["op"] == "Conv" and r["groups"] > 1)  # the depthwise 3×3
    page.click(f'button.open-layer[data-layer="{row["name"]}"]')
    page.wait_for_url("**/conv?**")
    ready(page)
    assert page.eval_on_selector("#groups", "s => s.value") == str(row["groups"])
    assert "error" not in page.eval_on_selector("#layer-message", "e => e.className")
    label = page.eval_on_selector("#weights-kind", "s => s.options[s.selectedIndex].textContent")
    assert label.startswith(f"layer {row['name']}")
    assert page.watch.errors == []


# --- what a new user tripped over (newcomer's walk, issue 13) ---------------------------------------------

def test_the_page_opens_on_a_clear_seven(page, live_server):
    """The default drawing lands on something (STYLE.md §14): the uncrossed seven opened on 7 at 47 %
    against 2 at 37 %; the seven is drawn crossed, as the dataset's writers draw it."""
    page.goto(live_server + "/network")
    ready(page)
    assert page.get_attribute("#prediction", "data-top") == "7"
    top = page.inner_text("#prediction .cls.top .v")
    assert float(top.rstrip(" %")) > 80, top


def test_downloads_are_named_after_the_models_onnx_file(page, live_server, tmp_path):
    """Netron opens the metrics over the .onnx: the built-in model's files were named after its sentence
    ("Digits_Inception_NiN-style_trained_on_scikit-learn_s_digits_-layers.csv"), not digits.onnx."""
    import torch

    from tests.onnx_models import build, export

    page.goto(live_server + "/network?ik=test&ti=2")
    ready(page)
    for button, name in [("#download-csv", "digits-layers.csv"), ("#download-netron", "digits.metrics.json")]:
        with page.expect_download() as dl:
            page.click(button)
        assert dl.value.suggested_filename == name
    data = export(build("small_vgg"), torch.randn(1, 3, 32, 32))
    info = httpx.post(live_server + "/api/models/upload", files={"file": ("my vgg.onnx", data)}).json()
    page.goto(live_server + f"/network?m={info['id']}")
    ready(page)
    with page.expect_download() as dl:
        page.click("#download-netron")
    assert dl.value.suggested_filename == "my_vgg.metrics.json"


def test_a_model_with_a_fully_connected_head_shows_no_class_maps(page, live_server):
    """Pooled features followed by a Linear layer are not class maps: the section claimed "one map per class"
    and captioned the pooled channels with the class names. The digits model keeps it (10 maps, 10 classes)."""
    import torch
    from torch import nn

    from tests.onnx_models import export

    torch.manual_seed(0)
    head = nn.Sequential(nn.Conv2d(3, 8, 3, padding=1), nn.ReLU(), nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(8, 5))
    data = export(head.eval(), torch.randn(1, 3, 16, 16))
    info = httpx.post(live_server + "/api/models/upload", files={"file": ("fc_head.onnx", data)}).json()
    page.goto(live_server + f"/network?m={info['id']}")
    ready(page)
    assert page.is_hidden("#class-maps-box")
    page.goto(live_server + "/network")
    ready(page)
    assert page.is_visible("#class-maps-box") and page.locator("#class-maps figure").count() == 10


def test_choosing_a_photo_before_a_file_asks_for_one_instead_of_predicting_noise(page, live_server):
    """Choosing "a photo or drawing" ran the model on a seeded random tensor and showed its prediction as if
    it were the photo's."""
    page.goto(live_server + "/network")
    ready(page)
    page.select_option("#input-kind", "image")
    page.wait_for_function("document.getElementById('layer-message').textContent.includes('Choose an image file')")
    assert page.locator("#prediction .cls").count() == 0 and page.locator("#layers .layer").count() == 0
    assert page.is_hidden("#model-input-box") and page.is_visible("#image-file")
    assert page.watch.errors == []


def test_a_drawing_survives_a_reload_and_a_shared_link(page, browser, live_server):
    """The drawing was the one piece of state not in the URL: a reload or a shared link went back to the
    default seven. Its 32×32 ink levels travel as `dr`; the model gets the same numbers again."""
    page.goto(live_server + "/network")
    ready(page)
    page.click("#pad-clear")
    n = loads(page)
    draw(page, [[(128, 40), (128, 220)]])  # a one
    ready(page, n + 1)
    assert "dr=" in page.url
    drawn = probabilities(page), page.get_attribute("#prediction", "data-top")
    grid = page.evaluate("() => { const c = document.getElementById('pad'), d = c.getContext('2d')"
                         ".getImageData(0, 0, c.width, c.height).data; let s = 0; for (let i = 0; i < d.length; i += 4) s += d[i]; return s; }")
    assert grid > 0
    page.reload()
    ready(page)
    assert (probabilities(page), page.get_attribute("#prediction", "data-top")) == drawn
    with page_at(browser, live_server, 800, 900) as fresh:
        fresh.goto(page.url)
        ready(fresh)
        assert (probabilities(fresh), fresh.get_attribute("#prediction", "data-top")) == drawn
    page.click("#pad-clear")
    page.wait_for_function("!location.search.includes('dr=')")


def test_at_800x900_the_pad_and_the_prediction_share_the_first_screen(browser, live_server):
    """Stacked below 1000 px, the prediction was a screen below the pad: draw, scroll down, look, scroll up."""
    with page_at(browser, live_server, 800, 900) as pg:
        pg.goto(live_server + "/network")
        ready(pg)
        pad, pred = pg.evaluate("['pad', 'prediction'].map((id) => document.getElementById(id).getBoundingClientRect().bottom)")
        assert pad <= 900 and pred <= 900, (pad, pred)
        assert pg.evaluate("document.documentElement.scrollWidth - document.documentElement.clientWidth") <= 0


def test_a_test_image_shows_its_true_class_beside_the_prediction(page, live_server):
    """The page showed a prediction for a held-out image and never its label, so a learner could not tell a
    right answer from a wrong one. The label and the verdict are the API's (`label`)."""
    import numpy as np

    from app.models.service import builtin_test_set

    images, labels = builtin_test_set("digits")
    for k in (0, 7):
        run = httpx.post(live_server + "/api/models/digits/run", json={"input": {"kind": "test_image", "index": k}}).json()
        page.goto(live_server + f"/network?ik=test&ti={k}")
        ready(page)
        label = str(int(labels[k]))
        assert page.get_attribute("#prediction .cls.truth", "data-cls") == label == run["label"]
        top = run["prediction"]["classes"][run["prediction"]["top"]]
        verdict = page.inner_text("#prediction .verdict")
        assert verdict.startswith(f"This test image is a {label}")
        assert verdict.endswith("is right." if top == label else f"says {top}, which is wrong.")
    page.goto(live_server + "/network")
    ready(page)
    assert page.locator("#prediction .verdict").count() == 0 and np.asarray(images).ndim == 3


def test_the_first_stroke_replaces_the_example_seven(page, live_server):
    """A learner who starts drawing without pressing Clear drew over the example seven, and the model read
    seven-plus-stroke. The first stroke now starts a drawing of one's own: the same one as after Clear."""
    page.goto(live_server + "/network")
    ready(page)
    n = loads(page)
    draw(page, [[(128, 40), (128, 220)]])  # a one, straight onto the page's seven
    ready(page, n + 1)
    over_the_seven = probabilities(page), page.url
    page.click("#pad-clear")
    n = loads(page)
    draw(page, [[(128, 40), (128, 220)]])
    ready(page, n + 1)
    assert (probabilities(page), page.url) == over_the_seven
    bar = page.evaluate("() => document.getElementById('pad').getContext('2d').getImageData(90, 50, 1, 1).data[0]")
    assert bar == 0  # a pixel of the seven's top bar is paper again


def test_a_picture_that_is_not_a_digit_gets_a_caveat_not_only_a_confident_bar(page, live_server, tmp_path):
    """A classifier picks one of its classes for any input: a photo of circles got "8: 97 %" with nothing
    saying the model only knows digits. An uploaded picture gets the caveat; a drawing does not need it."""
    from tests.images import png_rgb
    path = tmp_path / "circles.png"
    path.write_bytes(png_rgb(96, 128))
    page.goto(live_server + "/network")
    ready(page)
    assert page.locator("#prediction .caveat").count() == 0  # the pad: digits are what it is for
    n = loads(page)
    page.set_input_files("#image-file", str(path))
    ready(page, n + 1)
    caveat = page.text_content("#prediction .caveat")
    assert "only knows" in caveat and "0–9" in caveat
    assert page.watch.errors == []


def test_an_imported_models_buttons_and_table_say_what_they_are_at_800(browser, live_server):
    """An imported MobileNet-v2 block at 800×900: every "open in /conv" button had the same name (a keyboard
    or screen-reader user heard twelve identical buttons, not which layer each opens), and the table listed
    the ReLU6 bounds' Constant and Cast nodes as layers (now folded at load, as Netron shows them)."""
    info = upload_mobilenet_block(live_server)
    with page_at(browser, live_server, 800, 900) as page:
        page.goto(live_server + f"/network?m={info['id']}")
        ready(page)
        page.wait_for_selector("button.open-layer")
        names = page.eval_on_selector_all("button.open-layer", "bs => bs.map(b => [b.dataset.layer, b.getAttribute('aria-label') || b.textContent])")
        for layer, name in names:
            assert name in (f"open in /conv: {layer}", f"open in /pointwise: {layer}"), name  # the visible text first (axe)
        assert len({n for _, n in names}) == len(names)
        rows = httpx.get(live_server + f"/api/models/{info['id']}").json()["layers"]
        assert [r["op"] for r in rows] == ["Conv", "Relu", "Conv", "Clip", "Conv", "Clip", "Conv", "Add"]
        cells = page.eval_on_selector_all("table tbody tr", "trs => trs.map(tr => [...tr.cells].map(c => c.textContent.trim()))")
        assert [c[0] for c in cells] == [r["name"] for r in rows]
        assert page.evaluate("document.documentElement.scrollWidth") <= 800


def test_the_cost_table_shows_every_column_at_1280(browser, live_server):
    """The cost table's eleven columns sat beside the controls in ~830 px: at 1280×720 an imported
    MobileNet-v2 block's bytes, time, share and bound were behind a sideways scroll inside the table (time
    is what a learner came for). The table and the roofline now take the page's whole width."""
    info = upload_mobilenet_block(live_server)
    with page_at(browser, live_server, 1280, 720) as page:
        page.goto(live_server + f"/network?m={info['id']}")
        ready(page)
        page.wait_for_selector("#cost-table tbody tr")
        wrap = page.eval_on_selector(".table-wrap", "w => [w.scrollWidth, w.clientWidth]")
        assert wrap[0] <= wrap[1], wrap
        assert page.evaluate("document.documentElement.scrollWidth") <= 1280
        assert page.watch.errors == []
