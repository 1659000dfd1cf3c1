"""Finite inputs and weights whose products leave float32's range: a clear 422 ("overflow"), never a 500
(the trace's JSON encoder refused infinity), a 200 with nulls, or JSON's non-standard Infinity/NaN
(which a browser's JSON.parse rejects: a model run on /network answered with both)."""
from __future__ import annotations

import io

import numpy as np
import pytest
from onnx import TensorProto, helper, numpy_helper

BIG = 3e38  # finite in float32; BIG·BIG is not


@pytest.fixture
def huge_input(client):
    buf = io.BytesIO()
    np.save(buf, np.full((3, 6, 6), BIG, np.float32))
    res = client.post("/api/inputs", files={"file": ("big.npy", buf.getvalue(), "application/octet-stream")})
    assert res.status_code == 201, res.text
    return {"kind": "upload", "id": res.json()["id"]}


def conv_body(inp):
    return {"input": inp, "layer": {"out_channels": 1, "kernel_size": 1, "bias": False},
            "weights": {"kind": "custom", "weight": [[[[BIG]], [[0.0]], [[0.0]]]]}}


def transposed_body(inp):
    return {"input": inp, "layer": {"out_channels": 1, "kernel_size": 1, "bias": False},
            "weights": {"kind": "custom", "weight": [[[[BIG]]], [[[0.0]]], [[[0.0]]]]}}


CASES = {
    "/api/convolve": conv_body,
    "/api/trace": lambda inp: {**conv_body(inp), "positions": [{"channel": 0, "row": 0, "col": 0}]},
    "/api/pointwise/matmul": conv_body,
    "/api/pointwise/reduce": lambda inp: {"input": inp, "reduction": 1},
    "/api/pointwise/nin": lambda inp: {"input": inp, "widths": [4]},
    "/api/transposed": transposed_body,
    "/api/transposed/trace": lambda inp: {**transposed_body(inp), "positions": [{"channel": 0, "row": 0, "col": 0}]},
}


@pytest.mark.parametrize("endpoint", list(CASES))
def test_an_overflowing_layer_is_refused_with_a_clear_message(client, huge_input, endpoint):
    res = client.post(endpoint, json=CASES[endpoint](huge_input))
    assert res.status_code == 422, res.text
    error = res.json()["error"]
    assert error["code"] == "overflow" and "float32" in error["message"] and "scale" in error["message"]


def test_the_same_layer_on_ordinary_values_still_runs(client):
    body = conv_body({"kind": "sample", "name": "colour"})
    assert client.post("/api/convolve", json=body).status_code == 200  # 3e38 × colours ≤ 1 stays finite


def test_a_model_whose_activations_overflow_is_refused_on_run(client):
    w1 = numpy_helper.from_array(np.full((2, 1, 1, 1), BIG, np.float32), "w1")
    w2 = numpy_helper.from_array(np.full((1, 2, 1, 1), BIG, np.float32), "w2")
    nodes = [helper.make_node("Conv", ["x", "w1"], ["y"], kernel_shape=[1, 1]),
             helper.make_node("Conv", ["y", "w2"], ["z"], kernel_shape=[1, 1])]
    graph = helper.make_graph(nodes, "big", [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 1, 8, 8])],
                              [helper.make_tensor_value_info("z", TensorProto.FLOAT, [1, 1, 8, 8])], [w1, w2])
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    model.ir_version = 10
    up = client.post("/api/models/upload", files={"file": ("big.onnx", model.SerializeToString(), "application/octet-stream")})
    assert up.status_code == 201, up.text
    res = client.post(f"/api/models/{up.json()['id']}/run", json={"input": {"kind": "random", "shape": [1, 8, 8], "seed": 0}})
    assert res.status_code == 422 and res.json()["error"]["code"] == "overflow", res.text
    assert "Conv" in res.json()["error"]["message"]
