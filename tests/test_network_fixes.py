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


def test_a_layer_check_on_an_activation_input_does_not_run_the_model(client, monkeypatch):
    """/api/layer/check runs on every control change: the activation's shape comes from the graph's shapes,
    and the engine's graph run is never called for it (it is, once, for the convolve that follows)."""
    from app.models import layers, service

    run = client.post("/api/models/digits/run", json={"input": {"kind": "test_image", "index": 5}}).json()
    rows = client.get("/api/models/digits").json()["layers"]
    row = next(r for r in rows if r["op"] == "Conv" and r["in_shape"][1] > 1 and r["kernel"] == [3, 3])
    calls = []
    real_run = service.run
    for module in (service, layers):  # every graph run of the networks service
        monkeypatch.setattr(module, "run", lambda *a, **k: calls.append(1) or real_run(*a, **k))
    spec = {"kind": "activation", "model": "digits", "layer": row["name"], "input": run["input"]["id"]}
    body = {"input": spec, "weights": {"kind": "layer", "model": "digits", "layer": row["name"]}, "layer": {"padding": 1}}
    check = client.post("/api/layer/check", json=body).json()
    assert check["valid"] and check["input"]["shape"] == row["in_shape"][1:] and calls == []
    first = client.post("/api/convolve", json={**body, "encoding": "binary"})
    again = client.post("/api/trace", json={**body, "positions": [{"channel": 0, "row": 1, "col": 1}]})
    assert first.status_code == 200 and again.status_code == 200, again.text
    assert len(calls) == 1  # the trace reused the activation the convolve computed


def test_the_python_client_names_a_layer_and_runs_on_an_uploaded_picture(live_server, tmp_path):
    from app.client import Client
    from app.models.service import builtin_test_set
    from tests.test_network_image_input import on_paper, png

    import numpy as np

    from app.models.image_input import image_to_model_input

    images, labels = builtin_test_set("digits")
    k = int(np.flatnonzero(labels == 3)[0])
    page = on_paper(images[k])
    path = tmp_path / "digit.png"
    path.write_bytes(png(page))
    with Client(live_server) as c:
        info = c.conv_layer("digits", "/mix/mix.0/Conv")
        assert info["label"] == "layer /mix/mix.0/Conv of digits (BN folded)" and info["is_1x1"]
        up = c.upload(path)
        res = c.run_model("digits", {"kind": "image", "id": up["id"]})
        want = image_to_model_input((np.rint(page * 255) / 255)[None], (1, 1, 32, 32), True)[0]
        np.testing.assert_array_equal(res["input_preview"], want)  # decoded by the client
        assert res["prediction"]["top"] == 3


def test_opening_a_layer_from_network_runs_the_model_once(client, monkeypatch):
    """The page's click asks POST /api/models/{id}/layer for the geometry, then /conv convolves the same
    layer input by the activation kind: one graph run between them, not two."""
    from app.models import layers, service

    rows = client.get("/api/models/digits").json()["layers"]
    row = next(r for r in rows if r["op"] == "Conv" and r["in_shape"][1] > 1 and r["kernel"] == [3, 3])
    spec = {"kind": "test_image", "index": 11}
    model_input = client.post("/api/models/digits/run", json={"input": spec}).json()["input"]["id"]
    calls = []
    real_run = service.run
    for module in (service, layers):  # every graph run of the networks service
        monkeypatch.setattr(module, "run", lambda *a, **k: calls.append(1) or real_run(*a, **k))
    view = client.post("/api/models/digits/layer", json={"input": spec, "layer": row["name"]}).json()
    body = {"input": {"kind": "activation", "model": "digits", "layer": row["name"], "input": model_input},
            "weights": {"kind": "layer", "model": "digits", "layer": row["name"]}, "layer": view["layer"],
            "encoding": "binary"}
    assert client.post("/api/convolve", json=body).status_code == 200
    assert len(calls) == 1
