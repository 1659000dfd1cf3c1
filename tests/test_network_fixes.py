"""Small fixes around the networks service: the "layer" weights kind finds uploaded models in the app's own
data directory (not get_settings()'s), and a check naming a layer that does not exist is a valid answer."""
from __future__ import annotations

import numpy as np
import torch

from app.encoding import decode_array, decode_frame
from app.models.onnx_import import parse_model
from app.settings import Settings, get_settings
from tests.onnx_models import build, export


def test_layer_weights_of_an_uploaded_model_come_from_the_apps_data_dir(client, settings):
    assert get_settings().data_dir != settings.data_dir  # the test app's store is not the process default's
    data = export(build("resnet_bottleneck"), torch.randn(1, 3, 16, 16))
    mid = client.post("/api/models/upload", files={"file": ("b.onnx", data)}).json()["id"]
    rows = client.get(f"/api/models/{mid}").json()["layers"]
    row = next(r for r in rows if r["op"] == "Conv" and r["is_1x1"] and r["bn_folded"])
    run = client.post(f"/api/models/{mid}/run", json={"input": {"kind": "random", "shape": [3, 16, 16], "seed": 1}}).json()
    body = {"input": {"kind": "activation", "model": mid, "layer": row["name"], "input": run["input"]["id"]},
            "weights": {"kind": "layer", "model": mid, "layer": row["name"]}, "layer": {"kernel_size": 1},
            "encoding": "binary"}
    r = client.post("/api/convolve", json=body)
    assert r.status_code == 200, r.text
    frame = decode_frame(r.content)
    m = parse_model(data, Settings())
    node = next(n for n in m.nodes if n.name == row["name"])
    np.testing.assert_array_equal(decode_array(frame["weight"]).reshape(m.consts[node.inputs[1]].shape),
                                  m.consts[node.inputs[1]])  # the BN-folded initializer, exactly
    check = client.post("/api/layer/check", json={k: body[k] for k in ("input", "weights", "layer")})
    assert check.status_code == 200 and check.json()["valid"], check.text


def test_a_check_on_a_layer_that_does_not_exist_is_a_valid_answer_not_a_404(client):
    r = client.post("/api/layer/check", json={"input": {"kind": "random", "shape": [16, 8, 8]},
                                              "weights": {"kind": "layer", "model": "digits", "layer": "nope"}})
    assert r.status_code == 200, r.text
    assert r.json()["valid"] is False and r.json()["error"]["status"] == 404 and r.json()["allowed_groups"] is None
