"""/api/transposed and /api/transposed/trace through HTTP (in process): against torch, and bad requests."""
from __future__ import annotations

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from app.encoding import decode_array, decode_frame
from app.inputs.samples import sample_tensor
from tests.test_api import error_of

RANDOM = {"input": {"kind": "random", "shape": [4, 5, 6], "seed": 3},
          "layer": {"out_channels": 6, "kernel_size": [3, 2], "stride": [2, 3], "padding": [1, 0],
                    "output_padding": [1, 2], "dilation": [1, 2], "groups": 2},
          "weights": {"kind": "random", "seed": 7}}


def torch_of(x, res):
    lay = res["layer"]
    w = torch.from_numpy(decode_array(res["weight"]).copy())
    b = None if res["bias"] is None else torch.tensor(res["bias"], dtype=torch.float32)
    return F.conv_transpose2d(torch.from_numpy(np.asarray(x).copy()), w, b, lay["stride"], lay["padding"],
                              lay["output_padding"], lay["groups"], lay["dilation"]).numpy()


def test_random_layer_matches_torch(client):
    res = client.post("/api/transposed", json={**RANDOM, "include_input": True}).json()
    x = decode_array(res["input_array"])
    out, ref = decode_array(res["output"]), torch_of(x, res)
    assert out.shape == ref.shape == tuple(res["output_shape"]) == (6, (5 - 1) * 2 - 2 + 1 * (3 - 1) + 1 + 1,
                                                                    (6 - 1) * 3 - 0 + 2 * (2 - 1) + 2 + 1)
    assert np.abs(out - ref).max() <= 1e-5
    assert res["weight"]["shape"] == [4, 6 // 2, 3, 2]
    assert res["cost"]["macs"] == 4 * 5 * 6 * (6 // 2) * 3 * 2
    assert res["cost"]["zero_inserted_macs"] == 6 * out.shape[1] * out.shape[2] * (4 // 2) * 3 * 2
    assert res["layer"]["gather_padding"] == [[1 * 2 - 1, 1 * 2 - 1 + 1], [2 * 1 - 0, 2 * 1 - 0 + 2]]
    assert res["formulas"]["out_height"].endswith(f"= {out.shape[1]}")


def test_bilinear_upsampling_doubles_a_sample_and_interpolates(client):
    res = client.post("/api/transposed", json={"input": {"kind": "sample", "name": "edges"},
                                               "layer": {"stride": 2}, "weights": {"kind": "upsample"},
                                               "encoding": "binary"})
    body = decode_frame(res.content)
    x, out = sample_tensor("edges"), body["output"]["data"]
    assert out.shape == (1, 2 * 96, 2 * 96) and body["layer"]["kernel_size"] == [4, 4]
    # an interior output pixel between input pixels is 3/4 of the nearer and 1/4 of the farther, per axis
    r, c = 41, 60
    expect = sum(wy * wx * x[0, y, xx] for y, wy in ((20, 0.75), (21, 0.25)) for xx, wx in ((29, 0.25), (30, 0.75)))
    assert out[0, r, c] == pytest.approx(expect, abs=1e-6)
    ref = torch_of(x, body)
    assert np.abs(out - ref).max() <= 1e-5


def test_restores_lists_the_shapes_a_stride_2_convolution_confuses(client):
    req = {"input": {"kind": "random", "shape": [1, 8, 8]}, "layer": {"kernel_size": 3, "stride": 2, "padding": 1,
                                                                         "output_padding": 1, "out_channels": 1},
           "weights": {"kind": "random"}}
    rest = client.post("/api/transposed", json=req).json()["formulas"]["restores"][0]
    # Conv2d(3, s=2, p=1) maps 15 and 16 to ⌊(15 + 2 − 2 − 1)/2⌋ + 1 = ⌊(16 + 2 − 2 − 1)/2⌋ + 1 = 8
    assert rest["conv_inputs"] == [15, 16] and rest["output_padding_for_each"] == [0, 1]
    assert rest["restored"] == 16 and rest["restores_conv_input"]


def test_trace_scatter_gather_and_engine_agree_through_the_api(client):
    positions = [{"channel": c, "row": r, "col": q} for c in (0, 5) for r in (0, 4, 8) for q in (0, 7, 16)]
    res = client.post("/api/transposed/trace", json={**RANDOM, "positions": positions})
    assert res.status_code == 200, res.text
    for t in res.json()["traces"]:
        assert t["scatter_sum"] == pytest.approx(t["gather_sum"], abs=1e-9)
        assert t["value"] == pytest.approx(t["engine_value"], abs=1e-5)
        assert len(t["stamps"]["products"]) == len(t["stamps"]["rows"])
        assert np.shape(t["gather"]["windows"]) == (4 // 2, 3, 2)


@pytest.mark.parametrize("patch,status,needle", [
    ({"layer": {"stride": 2, "output_padding": 2}}, 422, "smaller than the stride"),
    ({"layer": {"kernel_size": 3, "padding": 9}}, 422, "crops the whole output"),
    ({"layer": {"out_channels": 3, "groups": 2}}, 422, "groups=2"),
    ({"layer": {"kernel_size": 65}}, 413, "CONVLENS_MAX_KERNEL"),
    ({"layer": {"stride": 2**31 - 2}, "weights": {"kind": "upsample"}}, 413, "CONVLENS_MAX_KERNEL"),  # k = 2s
    ({"layer": {"kernel_size": 3}, "weights": {"kind": "upsample", "name": "nearest"}}, 422, "kernel_size"),
    ({"input": {"kind": "random", "shape": [1, 4000, 4000]}, "layer": {"stride": 4, "kernel_size": 4}}, 413,
     "CONVLENS_MAX_OUTPUT_ELEMENTS"),
    ({"weights": {"kind": "custom", "weight": [[[[1.0]]]]}, "input": {"kind": "random", "shape": [2, 3, 3]}}, 422,
     "does not match"),
])
def test_bad_layers_are_clear_4xx(client, patch, status, needle):
    small = {"input": {"kind": "random", "shape": [1, 4, 4]}, "weights": {"kind": "random"}}
    body = error_of(client.post("/api/transposed", json={**small, **patch}), status)
    assert (body["limit"] == needle) if needle.startswith("CONVLENS_") else (needle in body["message"])


def test_trace_refuses_positions_outside_and_too_many(make_client):
    client = make_client(max_trace_positions=2)
    pos = [{"channel": 0, "row": 0, "col": 0}]
    assert "outside the output" in error_of(client.post("/api/transposed/trace", json={
        **RANDOM, "positions": [{"channel": 6, "row": 0, "col": 0}]}), 422)["message"]
    assert "CONVLENS_MAX_TRACE_POSITIONS" == error_of(client.post("/api/transposed/trace", json={
        **RANDOM, "positions": pos * 3}), 413)["limit"]


def test_check_answers_without_running_and_explains_an_invalid_layer(client):
    ok = client.post("/api/transposed/check", json={"input": RANDOM["input"], "layer": RANDOM["layer"],
                                                    "weights": RANDOM["weights"]}).json()
    run = client.post("/api/transposed", json=RANDOM).json()
    assert ok["valid"] and ok["output_shape"] == run["output_shape"] and ok["cost"] == run["cost"]
    assert ok["formulas"] == run["formulas"] and ok["layer"] == run["layer"]
    bad = client.post("/api/transposed/check", json={"layer": {"stride": 2, "output_padding": 3}}).json()
    assert not bad["valid"] and bad["error"]["status"] == 422 and "output_padding" in bad["error"]["message"]


def test_gather_array_is_the_zero_inserted_padded_input(client):
    res = client.post("/api/transposed", json={**RANDOM, "include_input": True}).json()
    x, z = decode_array(res["input_array"]), decode_array(res["gather_array"])
    (t, _), (l, _) = res["layer"]["gather_padding"]  # 1 and 2: both ≥ 0 here
    assert list(z.shape[1:]) == res["layer"]["gather_shape"]
    assert np.array_equal(z[:, t:t + (5 - 1) * 2 + 1:2, l:l + (6 - 1) * 3 + 1:3], x)
    assert np.count_nonzero(z) == np.count_nonzero(x)


def test_region_is_where_the_output_varies_most(client):
    """On "edges" upsampled ×2 the busiest 6×6 region straddles an edge, never a flat area."""
    res = client.post("/api/transposed", json={"input": {"kind": "sample", "name": "edges"}, "layer": {"stride": 2},
                                               "region_size": 6, "encoding": "binary"})
    body = decode_frame(res.content)
    r, c = body["region"]
    window = body["output"]["data"][0, r:r + 6, c:c + 6]
    assert window.std() > 0 and window.std() >= body["output"]["data"][0, 90:96, 90:96].std()
