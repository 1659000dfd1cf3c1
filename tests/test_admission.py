"""Admission by cost (issue 14) on every endpoint that runs the engine beyond /api/convolve: the cost
lab's measurements, a model's forward runs and a model layer's activation as /api/convolve's input. A
computation of heavy_macs or more needs one of the worker's heavy slots; with the only slot taken and
no queue, it is refused with 503 + Retry-After before it runs, and runs once the slot is free. The
receptive-field walk runs no engine at all, so it never waits for a slot; its designs are size-checked
before validation like the cost lab's."""
from __future__ import annotations

import dataclasses

import pytest

from app.compute import engine_slot

ONE_SLOT = {"max_heavy_requests": 1, "heavy_queue_s": 0}
SEED = {"input_shape": [64, 14, 14], "repeats": 1, "warmup": 0}


@pytest.fixture
def tight(make_client, settings):
    """A client whose heavy threshold is low enough that each request below is heavy, and settings that
    address the same slot table (slots are keyed by max_heavy_requests)."""
    over = {**ONE_SLOT, "heavy_macs": 1000}
    return make_client(**over), dataclasses.replace(settings, **over)


def _busy(r) -> None:
    assert r.status_code == 503, r.text[:300]
    assert int(r.headers["retry-after"]) >= 1
    err = r.json()["error"]
    assert err["code"] == "busy" and err["limit"] == "CONVLENS_MAX_HEAVY_REQUESTS" and "MACs" in err["message"]


def _seed_designs(client):
    return next(x for x in client.get("/api/comparisons").json() if x["name"] == "seed")["designs"]


def _model_requests(client):
    layers = client.get("/api/models/digits").json()["layers"]
    deep_conv = [l for l in layers if l["op"] == "Conv"][1]  # reads an activation: the model runs up to it
    return [("/api/models/digits/run", {"input": {"kind": "test_image", "index": 0}}),
            ("/api/models/digits/activation", {"tensor": layers[-1]["output"], "encoding": "base64"}),
            ("/api/models/digits/layer", {"layer": deep_conv["name"]})]


def test_measurements_take_a_heavy_slot(tight):
    client, s = tight
    designs = _seed_designs(client)
    requests = [("/api/measure", {**SEED, "design": designs[1]}),
                ("/api/measure/compare", {**SEED, "designs": designs})]
    with engine_slot(10**12, s):  # the worker's only heavy slot is taken
        for url, body in requests:
            _busy(client.post(url, json=body))
    for url, body in requests:  # free again: the same requests run
        assert client.post(url, json=body).status_code == 200, url


def test_light_measurements_never_queue_behind_heavy_ones(make_client, settings):
    client = make_client(**ONE_SLOT)  # default heavy_macs: a 3-channel 8×8 ReLU is light
    s = dataclasses.replace(settings, **ONE_SLOT)
    with engine_slot(10**12, s):
        r = client.post("/api/measure", json={"input_shape": [3, 8, 8], "design": {"layers": [{"op": "relu"}]}})
        assert r.status_code == 200


def test_model_runs_take_a_heavy_slot(tight):
    client, s = tight
    requests = _model_requests(client)
    with engine_slot(10**12, s):
        for url, body in requests:
            _busy(client.post(url, json=body))
    for url, body in requests:
        assert client.post(url, json=body).status_code == 200, url


def test_a_model_activation_as_convolve_input_takes_a_heavy_slot(make_client, settings):
    over = {**ONE_SLOT, "heavy_macs": 10**6}  # the model's 1.9 M MAC run is heavy, the 1×1 conv on its map is not
    client, s = make_client(**over), dataclasses.replace(settings, **over)
    run = client.post("/api/models/digits/run", json={"input": {"kind": "test_image", "index": 0},
                                                      "preview_channels": 0}).json()
    conv = [l for l in client.get("/api/models/digits").json()["layers"] if l["op"] == "Conv"][1]
    body = {"input": {"kind": "activation", "model": "digits", "layer": conv["name"], "input": run["input"]["id"]},
            "layer": {"out_channels": 1, "kernel_size": 1}, "encoding": "npy"}
    assert conv["in_shape"][1] * conv["in_shape"][2] * conv["in_shape"][3] < over["heavy_macs"]  # a light conv
    with engine_slot(10**12, s):
        _busy(client.post("/api/convolve", json=body))  # the model's run up to the layer is heavy here
    assert client.post("/api/convolve", json=body).status_code == 200


def test_receptive_fields_run_no_engine_and_never_wait_for_a_slot(tight):
    client, s = tight
    with engine_slot(10**12, s):
        for body in [{}, {"model": "digits"}, {"network": "resnet50", "input": {"kind": "random", "shape": [3, 512, 512]}}]:
            assert client.post("/api/receptive", json=body).status_code == 200, body


def test_receptive_designs_are_size_checked_before_validation(make_client):
    client = make_client(max_design_layers=10)
    bad = {"layers": [{"op": "teleport"}] * 1000}  # the schema would refuse each one; the size answers first
    r = client.post("/api/receptive", json={"design": bad})
    assert r.status_code == 413 and r.json()["error"]["limit"] == "CONVLENS_MAX_DESIGN_LAYERS"
    ok = client.post("/api/receptive", json={"design": {"layers": [{"op": "conv", "out": 4, "k": 1}] * 10}})
    assert ok.status_code == 200 and len(ok.json()["rows"]) == 10
    over = client.post("/api/receptive", json={"design": {"layers": [{"op": "conv", "out": 4, "k": 1}] * 11}})
    assert over.status_code == 413 and "at most 10 is allowed" in over.json()["error"]["message"]
