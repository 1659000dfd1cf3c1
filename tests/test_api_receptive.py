"""/api/receptive through HTTP (in process): rows, the followed point, positions and bad requests."""
from __future__ import annotations

from app.encoding import decode_array
from tests.test_api import error_of

STACK = {"name": "three 3×3, a 1×1, a pool", "layers": [
    {"op": "conv", "out": 4, "k": 3, "padding": 1}, {"op": "conv", "out": 4, "k": 1},
    {"op": "conv", "out": 4, "k": 3, "stride": 2, "padding": 1}, {"op": "pool", "k": 2},
    {"op": "conv", "out": 4, "k": 3, "padding": 1}]}


def test_a_user_stack_on_a_sample(client):
    res = client.post("/api/receptive", json={"input": {"kind": "sample", "name": "zone_plate"}, "design": STACK,
                                              "point": [30, 40], "include_input": True})
    assert res.status_code == 200, res.text
    body = res.json()
    assert decode_array(body["input_array"]).shape == (1, 64, 64)
    sizes = [(r["h"]["size_max"], r["h"]["jump_max"], r["grows"]) for r in body["rows"]]
    # 3×3: 3; 1×1: unchanged; 3×3/2: 3 + 2 = 5, jump 2; pool 2/2: 5 + 1·2 = 7, jump 4; 3×3: 7 + 2·4 = 15
    assert sizes == [(3, 1, True), (3, 1, False), (5, 2, True), (7, 4, True), (15, 4, True)]
    for r in body["rows"]:
        t, l, b, rr = r["box"]
        assert b - t + 1 == r["h"]["size_max"] and rr - l + 1 == r["w"]["size_max"]
        assert t <= 30 <= b and l <= 40 <= rr  # the followed point lies in each layer's field


def test_googlenet_on_a_small_picture_stops_where_a_layer_no_longer_fits(client):
    body = client.post("/api/receptive", json={"input": {"kind": "sample", "name": "colour"}}).json()
    assert body["network"].startswith("GoogLeNet") and body["stopped"].startswith("stops before 'avg pool 7×7/1'")
    stem = [(r["name"], r["h"]["size_max"]) for r in body["rows"][:6]]
    assert stem[0] == ("convolution 7×7/2", 7) and stem[5] == ("max pool 3×3/2", 27)
    # every stride-1 1×1 layer, inside branches too, leaves its input's field exactly as it was
    ones = [r for r in body["rows"] if r["kind"] == "conv 1×1/1"]
    assert len(ones) > 20 and not any(r["grows"] for r in ones) and all(r["box"] == r["box_before"] for r in ones)
    assert all(r["grows"] for r in body["rows"] if r["kind"].startswith("conv 3×3"))
    concat = next(r for r in body["rows"] if r["name"] == "inception (3a)")
    assert concat["h"]["size_min"] < concat["h"]["size_max"] and concat["h"]["paths"] > 1


def test_position_follows_the_centre_of_that_outputs_field(client):
    body = client.post("/api/receptive", json={"input": {"kind": "sample", "name": "zone_plate"}, "design": STACK,
                                               "position": {"layer": 4, "row": 3, "col": 5}}).json()
    assert body["rows"][4]["position"] == [3, 5]
    # its field: start −1 − 0 − 1·1 − 0·2 − 1·4 = −6 per axis, jump 4, size 15: rows −6 + 12 … +14
    assert body["rows"][4]["box"] == [-6 + 3 * 4, -6 + 5 * 4, -6 + 3 * 4 + 14, -6 + 5 * 4 + 14]


def test_bad_requests_are_clear_4xx(client):
    assert "outside" in error_of(client.post("/api/receptive", json={
        "design": STACK, "position": {"layer": 9, "row": 0, "col": 0}}), 422)["message"]
    tiny = {"input": {"kind": "random", "shape": [1, 2, 2]}, "network": "squeezenet"}  # conv1 is 7×7 unpadded
    assert "fits" in error_of(client.post("/api/receptive", json=tiny), 422)["message"]


def test_an_imported_model_is_walked_on_its_own_input_size(client):
    """The built-in digits CNN (ONNX, issue 13): rows per 4-D node, in its 32×32 input's coordinates,
    1×1 nodes unchanged, and its global average pooling sees the whole input."""
    body = client.post("/api/receptive", json={"input": {"kind": "sample", "name": "colour"}, "model": "digits"}).json()
    assert body["grid"] == [32, 32] and body["rows"]
    ones = [r for r in body["rows"] if r["kind"].startswith("Conv 1×1/1")]
    assert ones and not any(r["grows"] for r in ones)
    assert any(r["whole_input"] for r in body["rows"]) or body["rows"][-1]["h"]["size_max"] > 1
    assert "unknown model" in error_of(client.post("/api/receptive", json={"model": "nope"}), 404)["message"]
