"""Damaged model files: any few bytes of a valid ONNX model changed (or the file cut short) get a 4xx or
work; never a 500. Flipped bytes found two 500s: a node name that was no longer UTF-8 (protobuf hands
such a string back as bytes, and the answer's validation failed on it)."""
from __future__ import annotations

import numpy as np
from hypothesis import HealthCheck, given, settings, strategies as st
from onnx import TensorProto, helper, numpy_helper


def small_model() -> bytes:
    """Conv (with bias) → BatchNormalization (folded at import) → Relu → Conv 1×1 → GlobalAveragePool → Flatten."""
    rng = np.random.default_rng(0)
    inits = [numpy_helper.from_array(rng.standard_normal(shape).astype(np.float32), name) for name, shape in [
        ("w1", (4, 1, 3, 3)), ("b1", (4,)), ("scale", (4,)), ("shift", (4,)), ("mean", (4,)), ("w2", (3, 4, 1, 1))]]
    inits.append(numpy_helper.from_array(np.ones(4, np.float32), "var"))
    nodes = [helper.make_node("Conv", ["x", "w1", "b1"], ["c1"], name="/stem/Conv", pads=[1, 1, 1, 1]),
             helper.make_node("BatchNormalization", ["c1", "scale", "shift", "mean", "var"], ["bn"], name="/stem/BN"),
             helper.make_node("Relu", ["bn"], ["r"], name="/stem/Relu"),
             helper.make_node("Conv", ["r", "w2"], ["c2"], name="/head/Conv"),
             helper.make_node("GlobalAveragePool", ["c2"], ["g"], name="/head/GAP"),
             helper.make_node("Flatten", ["g"], ["y"], name="/head/Flatten")]
    graph = helper.make_graph(nodes, "small", [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 1, 8, 8])],
                              [helper.make_tensor_value_info("y", TensorProto.FLOAT, [1, 3])], inits)
    return helper.make_model(graph, opset_imports=[helper.make_opsetid("", 13)], ir_version=10).SerializeToString()


BASE = small_model()


@settings(max_examples=150, deadline=None, derandomize=True, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(changes=st.lists(st.tuples(st.integers(0, len(BASE) - 1), st.integers(0, 255)), min_size=1, max_size=8),
       cut=st.one_of(st.none(), st.integers(1, len(BASE) - 1)))
def test_a_damaged_model_gets_a_4xx_or_works_never_a_500(client, changes, cut):
    data = bytearray(BASE)
    for at, value in changes:
        data[at] = value
    data = bytes(data[:cut] if cut else data)
    up = client.post("/api/models/upload", files={"file": ("m.onnx", data, "application/octet-stream")})
    assert up.status_code in (201, 413, 422), up.text
    if up.status_code == 201:
        model_id = up.json()["id"]
        detail = client.get(f"/api/models/{model_id}")
        run = client.post(f"/api/models/{model_id}/run", json={"input": {"kind": "random", "shape": [1, 8, 8], "seed": 0}})
        assert detail.status_code < 500 and run.status_code < 500, (detail.text[:300], run.text[:300])


def test_the_undamaged_model_runs(client):
    up = client.post("/api/models/upload", files={"file": ("m.onnx", BASE, "application/octet-stream")})
    assert up.status_code == 201, up.text
    run = client.post(f"/api/models/{up.json()['id']}/run", json={"input": {"kind": "random", "shape": [1, 8, 8], "seed": 0}})
    assert run.status_code == 200 and len(run.json()["layers"]) == 5  # BatchNormalization folded into the Conv
