"""The 1×1 page's endpoints: each equivalence it shows is computed by the engine and pinned here."""
from __future__ import annotations

import numpy as np
import pytest

from app.encoding import decode_array, decode_frame
from app.inputs.samples import sample_tensor


def test_matmul_view_of_greyscale(client):
    res = client.post("/api/pointwise/matmul", json={"input": {"kind": "sample", "name": "colour"},
                                                    "weights": {"kind": "preset", "name": "greyscale"}}).json()
    x = sample_tensor("colour")
    assert res["x_shape"] == [96 * 128, 3] and res["w_shape"] == [3, 1] and res["y_shape"] == [96 * 128, 1]
    assert res["max_abs_conv_vs_matmul"] <= 1e-6 and res["max_abs_conv_vs_per_pixel"] <= 1e-6
    assert np.allclose(decode_array(res["w_matrix"])[:, 0], [0.299, 0.587, 0.114])
    y = decode_array(res["y_matrix"])
    assert np.allclose(y[5 * 128 + 7, 0], 0.299 * x[0, 5, 7] + 0.587 * x[1, 5, 7] + 0.114 * x[2, 5, 7], atol=1e-6)


def test_matmul_view_refuses_a_3x3(client):
    r = client.post("/api/pointwise/matmul", json={"layer": {"kernel_size": 3}})
    assert r.status_code == 422 and "plain 1×1 layer" in r.json()["error"]["message"]


def test_reduce_c_versus_h_w(client):
    conv, pool = client.post("/api/pointwise/reduce", json={"input": {"kind": "random", "shape": [64, 28, 28]}}).json()
    assert conv["output_shape"] == [16, 28, 28] and conv["params"] == 64 * 16 + 16 and conv["work"] == 28 * 28 * 64 * 16
    assert pool["output_shape"] == [64, 14, 14] and pool["params"] == 0 and pool["work"] == 64 * 14 * 14 * 4
    assert decode_array(pool["output"]).shape == (64, 14, 14)


def test_nin_is_a_per_pixel_mlp(client):
    res = client.post("/api/pointwise/nin", json={"widths": [6, 5, 2], "row": 10, "col": 20}).json()
    assert [(l["in_channels"], l["out_channels"]) for l in res["layers"]] == [(3, 6), (6, 5), (5, 2)]
    assert res["output_shape"] == [2, 96, 128] and res["max_abs_conv_stack_vs_mlp"] <= 1e-5
    # the MLP by hand on the pixel's vector, with the layers' own weights, gives the drawn activations
    v = np.asarray(res["input_at_pixel"])
    for layer in res["layers"]:
        v = np.maximum(np.asarray(layer["weight"]) @ v + np.asarray(layer["bias"]), 0)
        assert np.allclose(v, layer["activation_at_pixel"], atol=1e-5)
    assert np.allclose(decode_array(res["output"])[:, 10, 20], v, atol=1e-5)
    bad = client.post("/api/pointwise/nin", json={"row": 1000})
    assert bad.status_code == 422 and "outside the input" in bad.json()["error"]["message"]


def test_fc_is_a_conv(client):
    res = client.post("/api/pointwise/fc", json={"channels": 8, "block": 7, "outputs": 10, "size": 14}).json()
    assert res["fc_params"] == 10 * 8 * 7 * 7 + 10 and res["conv_weight_shape"] == [10, 8, 7, 7]
    assert res["fc_inputs"] == 8 * 7 * 7 and res["inputs_formula"] == "C · k · k = 8 · 7 · 7 = 392"
    assert res["params_formula"].endswith(f"= 10 · 392 + 10 = {10 * 392 + 10:,}")
    assert len(decode_array(res["score_map"]).reshape(-1)) == 10 * 8 * 8  # the shape the formula names
    assert np.allclose(res["fc_scores"], res["conv_scores"], atol=1e-4) and res["max_abs_block"] <= 1e-4
    assert res["score_map_shape"] == [10, 8, 8] and res["max_abs_map"] <= 1e-4
    one = client.post("/api/pointwise/fc", json={"block": 1, "size": 1}).json()
    assert one["conv_weight_shape"][2:] == [1, 1] and one["max_abs_block"] <= 1e-5
    assert client.post("/api/pointwise/fc", json={"block": 7, "size": 5}).status_code == 422


def test_layer_check_writes_out_the_1x1_formulas(client):
    """The 1×1 page shows these strings as they are; they end in the engine's own counts."""
    body = {"input": {"kind": "sample", "name": "colour"}, "layer": {"kernel_size": 1, "out_channels": 4, "bias": True}}
    f = client.post("/api/layer/check", json=body).json()["formulas"]["pointwise"]
    assert f["params"] == f"params = C_in · C_out + C_out = 3 · 4 + 4 = {3 * 4 + 4}"
    assert f["macs"] == f"MACs = H · W · C_in · C_out = 96 · 128 · 3 · 4 = {96 * 128 * 3 * 4:,}"
    assert f["reads"] == 3 and f["reads_3x3"] == 9 * 3
    assert f["torch"] == "torch.nn.Conv2d(3, 4, kernel_size=1, bias=True)" and "+ b[:, None, None]" in f["numpy"]
    plain = client.post("/api/layer/check", json={**body, "layer": {"kernel_size": 1, "bias": False}}).json()
    assert plain["formulas"]["pointwise"]["params"].endswith("= 3 · 4 = 12")
    three = client.post("/api/layer/check", json={**body, "layer": {"kernel_size": 3}}).json()
    assert three["formulas"]["pointwise"] is None


def test_matmul_binary_frame_holds_the_same_matrices(client):
    """The page asks for X and Y (H·W rows: megabytes on a photo) as a binary frame, not base64."""
    req = {"input": {"kind": "random", "shape": [3, 5, 7], "seed": 2}, "layer": {"kernel_size": 1, "out_channels": 3}}
    as_json = client.post("/api/pointwise/matmul", json=req).json()
    r = client.post("/api/pointwise/matmul", json={**req, "encoding": "binary"})
    assert r.status_code == 200 and r.headers["content-type"] == "application/x-convlens-frame"
    frame = decode_frame(r.content)
    for key in ("x_matrix", "w_matrix", "y_matrix"):
        assert np.array_equal(decode_array(as_json[key]), decode_array(frame[key]))
        assert frame[key]["shape"] == as_json[key]["shape"]
    assert frame["x_shape"] == [5 * 7, 3] and frame["max_abs_conv_vs_matmul"] == as_json["max_abs_conv_vs_matmul"]


def test_reduce_and_nin_can_leave_out_the_whole_output(client):
    """The page shows shapes, counts and one pixel: it need not receive every output value."""
    full = client.post("/api/pointwise/reduce", json={"input": {"kind": "random", "shape": [8, 6, 6]}}).json()
    lean = client.post("/api/pointwise/reduce", json={"input": {"kind": "random", "shape": [8, 6, 6]},
                                                      "include_output": False}).json()
    assert [r["output"] for r in lean] == [None, None]
    assert [{k: v for k, v in r.items() if k != "output"} for r in full] == \
        [{k: v for k, v in r.items() if k != "output"} for r in lean]
    nin = client.post("/api/pointwise/nin", json={"row": 3, "col": 4, "include_output": False}).json()
    whole = client.post("/api/pointwise/nin", json={"row": 3, "col": 4}).json()
    assert nin["output"] is None and nin["layers"] == whole["layers"]
    assert decode_array(whole["output"])[:, 3, 4].tolist() == pytest.approx(nin["layers"][-1]["activation_at_pixel"], abs=1e-6)


def test_matrices_carry_one_range_not_one_per_row(client):
    """X and Y have H·W rows; per-row minima and maxima were 60 MB of JSON on a 1024×768 photo."""
    res = client.post("/api/pointwise/matmul", json={"input": {"kind": "random", "shape": [3, 40, 50], "seed": 1},
                                                    "layer": {"kernel_size": 1, "out_channels": 2}}).json()
    for key in ("x_matrix", "w_matrix", "y_matrix"):
        m = decode_array(res[key])
        assert res[key]["channel_min"] == [pytest.approx(float(m.min()))] and res[key]["channel_max"] == [pytest.approx(float(m.max()))]


def test_matmul_rows_can_come_every_nth_and_are_the_whole_matrices_rows(client):
    req = {"input": {"kind": "random", "shape": [3, 13, 17], "seed": 4}, "layer": {"kernel_size": 1, "out_channels": 5},
           "weights": {"kind": "random", "seed": 2}}
    whole = client.post("/api/pointwise/matmul", json=req).json()
    part = client.post("/api/pointwise/matmul", json={**req, "row_step": 10}).json()
    assert part["row_step"] == 10 and part["x_shape"] == whole["x_shape"] == [13 * 17, 3]
    for name in ("x_matrix", "y_matrix"):
        rows = decode_array(part[name])
        assert rows.shape[0] == -(-13 * 17 // 10)
        assert np.array_equal(rows, decode_array(whole[name])[::10])  # the same numbers, every 10th row
    assert part["max_abs_conv_vs_matmul"] == whole["max_abs_conv_vs_matmul"]  # the checks cover every row


def test_nin_checks_the_whole_stack_once_per_input_and_widths(client, monkeypatch):
    import app.compute_pointwise as pw
    calls = []
    real = pw.mlp_per_pixel
    monkeypatch.setattr(pw, "mlp_per_pixel", lambda x, layers: calls.append(1) or real(x, layers))
    body = {"input": {"kind": "random", "shape": [3, 20, 24], "seed": 9}, "widths": [6, 4], "include_output": False}
    whole = decode_array(client.post("/api/pointwise/nin", json={**body, "include_output": True}).json()["output"])
    first = client.post("/api/pointwise/nin", json={**body, "row": 3, "col": 5}).json()
    again = client.post("/api/pointwise/nin", json={**body, "row": 17, "col": 21}).json()
    assert len(calls) == 1  # the whole-tensor check ran for the first request only
    assert first["max_abs_conv_stack_vs_mlp"] == again["max_abs_conv_stack_vs_mlp"] <= 1e-6
    for res, (r, c) in [(first, (3, 5)), (again, (17, 21))]:
        assert res["output_shape"] == [4, 20, 24]
        assert res["layers"][-1]["activation_at_pixel"] == pytest.approx(whole[:, r, c].tolist(), abs=1e-6)
    client.post("/api/pointwise/nin", json={**body, "widths": [5]})  # other widths: checked anew
    assert len(calls) == 2


def test_fc_input_smaller_than_its_block_names_the_pages_fields(client):
    """The page's fields are "block k" and "larger input side": the error said "size=3 must be at least the
    block k=7", a parameter dump the learner has to translate."""
    res = client.post("/api/pointwise/fc", json={"block": 7, "size": 3})
    assert res.status_code == 422
    message = res.json()["error"]["message"]
    assert "larger input side" in message and "(3)" in message and "block k (7)" in message, message
    assert "size=" not in message
