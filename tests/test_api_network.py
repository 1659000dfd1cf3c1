"""/api/models through HTTP (in process): the built-in model, uploads, the cost table, runs, activations,
and the hostile corpus (each a 4xx with its message, the app still answering afterwards)."""
from __future__ import annotations

import numpy as np
import onnxruntime as ort
import pytest
import torch

from app.encoding import decode_array, decode_frame
from app.inputs.samples import random_tensor
from app.models.onnx_import import parse_model
from app.models.service import BUILTIN_DIR, builtin_test_set
from app.settings import Settings
from tests.hostile_models import CORPUS
from tests.onnx_models import build, export


def upload(client, data: bytes, name="m.onnx"):
    return client.post("/api/models/upload", files={"file": (name, data)})


def error_of(r, status):
    assert r.status_code == status, r.text
    return r.json()["error"]


@pytest.fixture(scope="module")
def vgg_bytes():
    return export(build("small_vgg"), torch.randn(1, 3, 32, 32), keep_bn=False)


def test_builtin_digits_is_listed_with_its_accuracy(client):
    models = client.get("/api/models").json()
    digits = next(m for m in models if m["id"] == "digits")
    assert digits["builtin"] and digits["input_shape"] == [1, 1, 32, 32] and digits["accuracy"] >= 0.95
    assert digits["classes"] == [str(d) for d in range(10)]


def test_cost_table_totals_are_the_sums_of_its_rows(client):
    d = client.get("/api/models/digits").json()
    rows = d["layers"]
    assert d["totals"]["params"] == sum(r["params"] for r in rows) == d["model"]["params"]  # every weight in a layer
    assert d["totals"]["macs"] == sum(r["macs"] for r in rows) and d["totals"]["flops"] == 2 * d["totals"]["macs"]
    pw = [r for r in rows if r["is_1x1"]]
    assert pw and all(r["op"] == "Conv" and r["kernel"] == [1, 1] for r in pw)
    assert d["totals"]["pointwise_macs"] == sum(r["macs"] for r in pw)
    assert d["totals"]["pointwise_macs_share"] == pytest.approx(d["totals"]["pointwise_macs"] / d["totals"]["macs"])
    assert any(r["bn_folded"] for r in rows)
    assert sum(o["macs"] for o in d["by_op"]) == d["totals"]["macs"]


def test_run_on_a_test_image_predicts_its_label(client):
    images, labels = builtin_test_set("digits")
    r = client.post("/api/models/digits/run", json={"input": {"kind": "test_image", "index": 0}})
    assert r.status_code == 200, r.text
    res = r.json()
    p = res["prediction"]
    assert p["kind"] == "probabilities" and sum(p["values"]) == pytest.approx(1, abs=1e-5)
    assert p["top"] == int(np.argmax(p["values"]))
    assert len(res["layers"]) == len(client.get("/api/models/digits").json()["layers"])
    assert res["total_ms"] == pytest.approx(sum(l["time_ms"] for l in res["layers"]))
    assert sum(l["time_share"] for l in res["layers"]) == pytest.approx(1)
    # the stored input is the model's input for that image
    stored = client.get(f"/api/inputs/{res['input']['id']}").json()
    assert stored["shape"] == [1, 32, 32]


def test_a_test_image_run_names_its_true_class_and_no_other_input_does(client):
    """Without its label a held-out image's prediction cannot be judged (the page showed "3" for image 7 and
    nothing said whether that was right)."""
    _, labels = builtin_test_set("digits")
    for k in (0, 7, len(labels) - 1):
        res = client.post("/api/models/digits/run", json={"input": {"kind": "test_image", "index": k}}).json()
        assert res["label"] == res["prediction"]["classes"][int(labels[k])]
    drawn = client.post("/api/models/digits/run", json={"input": {"kind": "drawing", "size": 32, "values": [0] * 1024}})
    assert drawn.json()["label"] is None


def test_drawing_goes_through_the_dataset_format(client):
    """A drawing equal to a test image's upscaled 8×8 (as ink fractions) gives the same prediction."""
    images, _ = builtin_test_set("digits")
    grid = np.kron(images[5] / 16.0, np.ones((4, 4)))  # 32×32, each 4×4 block the digit's ink fraction
    a = client.post("/api/models/digits/run", json={"input": {"kind": "drawing", "size": 32,
                                                              "values": grid.reshape(-1).tolist()}}).json()
    b = client.post("/api/models/digits/run", json={"input": {"kind": "test_image", "index": 5}}).json()
    assert a["prediction"]["values"] == pytest.approx(b["prediction"]["values"], abs=1e-6)
    assert a["input"]["id"] == b["input"]["id"]  # the same tensor, so the same content address


def test_binary_run_and_activation_frame(client):
    res = decode_frame(client.post("/api/models/digits/run", json={"encoding": "binary", "preview_channels": 4}).content)
    conv = next(l for l in res["layers"] if l["op"] == "Conv")
    prev = decode_array(conv["preview"])
    assert prev.shape[0] == 4 and max(prev.shape[1:]) <= 32
    full = decode_array(decode_frame(client.post("/api/models/digits/activation", json={
        "tensor": conv["output"], "encoding": "binary"}).content)["activation"])
    assert full.shape == tuple(conv["shape"][1:])
    np.testing.assert_array_equal(full[:4, ::max(1, -(-full.shape[1] // 32)), ::max(1, -(-full.shape[2] // 32))], prev)
    assert float(full.min()) == pytest.approx(conv["min"]) and float(full.max()) == pytest.approx(conv["max"])


def test_upload_run_and_activations_equal_onnxruntime(client, vgg_bytes):
    info = upload(client, vgg_bytes, "vgg.onnx")
    assert info.status_code == 201, info.text
    mid = info.json()["id"]
    assert upload(client, vgg_bytes).json()["id"] == mid  # content-addressed
    assert mid in {m["id"] for m in client.get("/api/models").json()}
    spec = {"kind": "random", "shape": [3, 32, 32], "seed": 0}
    x = random_tensor((3, 32, 32), 0, "normal")
    res = client.post(f"/api/models/{mid}/run", json={"input": spec}).json()
    sess = ort.InferenceSession(vgg_bytes, providers=["CPUExecutionProvider"])
    ref = sess.run(None, {sess.get_inputs()[0].name: x[None]})[0]
    np.testing.assert_allclose(res["prediction"]["values"], ref.reshape(-1), atol=1e-5)


def test_bad_requests_are_clear_4xx(client):
    assert error_of(client.get("/api/models/nope"), 404)["code"] == "not_found"
    assert error_of(client.get("/api/models/" + "0" * 64), 404)["code"] == "not_found"
    e = error_of(client.post("/api/models/digits/run", json={"input": {"kind": "test_image", "index": 10**6}}), 404)
    assert "test image" in e["message"]
    e = error_of(client.post("/api/models/digits/run", json={"input": {"kind": "random", "shape": [3, 32, 32]}}), 422)
    assert "[1, 32, 32]" in e["message"]
    e = error_of(client.post("/api/models/digits/run", json={"input": {"kind": "drawing", "size": 16, "values": [2.0] * 256}}), 422)
    assert "[0, 1]" in e["message"]
    e = error_of(client.post("/api/models/digits/activation", json={"tensor": "no-such"}), 404)
    assert "no-such" in e["message"]


def test_model_size_limit(make_client, vgg_bytes):
    c = make_client(max_model_bytes=1000)
    assert error_of(upload(c, vgg_bytes), 413)["code"] == "limit_exceeded"


@pytest.mark.parametrize("name", sorted(CORPUS))
def test_hostile_models_get_a_4xx_and_the_app_keeps_answering(client, name):
    make, status, words = CORPUS[name]
    e = error_of(upload(client, make(), f"{name}.onnx"), status)
    for w in words:  # a limit's setting is in the `limit` field, the message is for people
        assert e.get("limit") == f"CONVLENS_{w}" if w.startswith("MAX_") else w in e["message"]
    assert "CONVLENS_" not in e["message"]
    assert client.get("/api/models/digits").status_code == 200


@pytest.mark.parametrize("which", ["1x1", "3x3"])
def test_a_layer_runs_in_convolve_with_its_real_weights_on_its_real_activation(client, which):
    """The layer view's stored input and weights, sent to /api/convolve, give that layer's activation in the
    model's own forward pass, and the weights are the model's (BN folded) initializer."""
    spec = {"kind": "test_image", "index": 2}
    rows = client.get("/api/models/digits").json()["layers"]
    row = next(r for r in rows if r["op"] == "Conv" and r["is_1x1"] == (which == "1x1") and r["bn_folded"])
    view = client.post("/api/models/digits/layer", json={"input": spec, "layer": row["name"]}).json()
    assert view["is_1x1"] == (which == "1x1") and view["bn_folded"]
    pm = parse_model((BUILTIN_DIR / "digits.onnx").read_bytes(), Settings())
    node = next(n for n in pm.nodes if n.name == row["name"])
    np.testing.assert_array_equal(np.asarray(view["weight"], np.float32), pm.consts[node.inputs[1]])
    conv = client.post("/api/convolve", json={"input": {"kind": "upload", "id": view["input"]["id"]}, "layer": view["layer"],
                                              "weights": {"kind": "custom", "weight": view["weight"], "bias": view["bias"]},
                                              "encoding": "binary"})
    assert conv.status_code == 200, conv.text
    out = decode_array(decode_frame(conv.content)["output"])
    act = decode_array(decode_frame(client.post("/api/models/digits/activation", json={
        "input": spec, "tensor": row["output"]}).content)["activation"])
    np.testing.assert_allclose(out, act, rtol=1e-5, atol=1e-5)


def test_activation_input_and_layer_weights_kinds_reproduce_a_layer(client):
    """/api/convolve with the input kind 'activation of layer L of model M for input X' and the weights kind
    'layer L of model M' gives exactly what that layer gives in the model's own forward pass."""
    run = client.post("/api/models/digits/run", json={"input": {"kind": "test_image", "index": 9}}).json()
    rows = client.get("/api/models/digits").json()["layers"]
    for row in [r for r in rows if r["op"] == "Conv"][:4]:
        body = {"input": {"kind": "activation", "model": "digits", "layer": row["name"], "input": run["input"]["id"]},
                "weights": {"kind": "layer", "model": "digits", "layer": row["name"]},
                "layer": {"stride": 1, "padding": (row["kernel"][0] // 2)}, "encoding": "binary"}
        r = client.post("/api/convolve", json=body)
        assert r.status_code == 200, r.text
        out = decode_array(decode_frame(r.content)["output"])
        act = decode_array(decode_frame(client.post("/api/models/digits/activation", json={
            "input": {"kind": "test_image", "index": 9}, "tensor": row["output"]}).content)["activation"])
        np.testing.assert_allclose(out, act, rtol=1e-5, atol=1e-5)
    bad = {"input": {"kind": "activation", "model": "digits", "layer": "nope", "input": run["input"]["id"]}}
    assert error_of(client.post("/api/convolve", json=bad), 404)["code"] == "not_found"


def test_a_stride_longer_than_the_input_runs_as_one_window(client):
    """ONNX allows any stride; 2⁶² overflowed NumPy's byte strides (a 500). The output is the first window,
    as torch gives it."""
    import torch

    from tests.hostile_models import conv_with_attrs
    up = upload(client, conv_with_attrs(strides=[3, 2**62]), "stride.onnx")
    assert up.status_code == 201, up.text
    x = np.random.default_rng(1).standard_normal((1, 8, 8)).astype(np.float32)
    from tests.images import npy
    stored = client.post("/api/inputs", files={"file": ("x.npy", npy(x), "application/octet-stream")}).json()
    run = client.post(f"/api/models/{up.json()['id']}/run", json={"input": {"kind": "upload", "id": stored["id"]}})
    assert run.status_code == 200, run.text
    want = torch.nn.functional.conv2d(torch.from_numpy(x)[None], torch.ones(2, 1, 3, 3), stride=(3, 2**62))
    layer = run.json()["layers"][0]
    assert layer["shape"] == list(want.shape) and layer["max"] == pytest.approx(float(want.max()), rel=1e-5)
