"""The starting region of the /conv animation (app/engine/region.py) and the layer check's allowed
groups: the server decides both, the page only shows them."""
from __future__ import annotations

import numpy as np
from hypothesis import given, settings, strategies as st

from app.encoding import decode_array
from app.engine.geometry import allowed_groups, conv_geometry
from app.engine.region import OutputRegion, busiest_region, inside_spans


def brute_force(x, g, size):
    """{(r0, c0): (field inside the input?, summed per-channel variance)}, one np.var per channel."""
    rows, cols = min(size, g.out_height), min(size, g.out_width)
    fh = (rows - 1) * g.stride[0] + g.dilation[0] * (g.kernel[0] - 1) + 1
    fw = (cols - 1) * g.stride[1] + g.dilation[1] * (g.kernel[1] - 1) + 1
    p = np.pad(x.astype(np.float64), ((0, 0), g.pad_h, g.pad_w))
    scores = {}
    for r0 in range(g.out_height - rows + 1):
        for c0 in range(g.out_width - cols + 1):
            i, j = r0 * g.stride[0], c0 * g.stride[1]
            inside = (g.pad_h[0] <= i and i + fh <= g.pad_h[0] + g.in_height and
                      g.pad_w[0] <= j and j + fw <= g.pad_w[0] + g.in_width)
            scores[r0, c0] = (inside, sum(np.var(ch[i:i + fh, j:j + fw]) for ch in p))
    return scores


@settings(max_examples=60, deadline=None)
@given(c=st.integers(1, 3), h=st.integers(3, 14), w=st.integers(3, 14), k=st.integers(1, 3),
       s=st.integers(1, 2), p=st.integers(0, 2), d=st.integers(1, 2), size=st.integers(1, 6),
       seed=st.integers(0, 2**16))
def test_busiest_region_is_the_brute_force_argmax(c, h, w, k, s, p, d, size, seed):
    if d * (k - 1) + 1 > min(h, w) + 2 * p:
        return
    x = np.random.default_rng(seed).integers(-3, 4, (c, h, w)).astype(np.float32)  # integers: exact ties
    g = conv_geometry((c, h, w), 2, k, s, p, d)
    r = busiest_region(x, g, size)
    scores, rows, cols = brute_force(x, g, size), min(size, g.out_height), min(size, g.out_width)
    if not any(inside for inside, _ in scores.values()):
        # no region of that size lies inside: the largest square of outputs whose windows do, if any
        ones = [pos for pos, (inside, _) in brute_force(x, g, 1).items() if inside]
        if ones:
            rows = cols = min(size, len({i for i, _ in ones}), len({j for _, j in ones}))
            scores = brute_force(x, g, rows)
    any_inside = any(inside for inside, _ in scores.values())
    pool = [v for inside, v in scores.values() if inside or not any_inside]
    inside, score = scores[r.row_start, r.col_start]
    assert inside == any_inside  # a field inside the input beats one that reads padding
    assert score >= max(pool) - 1e-9  # and it is the one with the most variance (ties: any)
    assert (r.row_stop - r.row_start, r.col_stop - r.col_start) == (rows, cols)


def test_a_small_output_starts_on_windows_that_read_no_padding():
    """An 8×8 output (a layer opened from /network) is all of a 12×12 region, whose first window, at the
    corner, is mostly padding: the region shrinks to the outputs whose windows lie inside."""
    x = np.random.default_rng(0).normal(size=(16, 8, 8)).astype(np.float32)
    g = conv_geometry(x.shape, 8, 5, 1, 2)  # 5×5, padding 2: outputs 2…5 read no padding
    assert inside_spans(g) == ((2, 4), (2, 4))
    assert busiest_region(x, g, 12) == OutputRegion(2, 6, 2, 6)
    assert inside_spans(conv_geometry((1, 3, 3), 1, 5, 1, 2)) is None  # every window reads padding
    assert busiest_region(np.ones((1, 3, 3), np.float32), conv_geometry((1, 3, 3), 1, 5, 1, 2), 12) == \
        OutputRegion(0, 3, 0, 3)  # then the whole output, as before


def test_the_region_lands_on_the_detail_not_the_corner():
    x = np.zeros((1, 40, 50), np.float32)
    x[0, 20:30, 30:40] = np.indices((10, 10)).sum(0) % 2  # a small checker patch in a flat field
    g = conv_geometry(x.shape, 1, 3, 1, 1)
    r = busiest_region(x, g, 8)
    assert 20 - 8 < r.row_start <= 30 and 30 - 8 < r.col_start <= 40


def test_allowed_groups_are_the_common_divisors():
    assert allowed_groups(3, 4) == [1]
    assert allowed_groups(12, 8) == [1, 2, 4]
    assert allowed_groups(6, 6) == [1, 2, 3, 6]
    for g in allowed_groups(12, 8):
        conv_geometry((12, 5, 5), 8, 1, groups=g)  # each is accepted by the geometry rule


def test_check_returns_allowed_groups_even_for_an_invalid_layer(client):
    req = {"input": {"kind": "random", "shape": [6, 8, 8]}, "layer": {"out_channels": 4, "kernel_size": 3},
           "weights": {"kind": "random"}}
    ok = client.post("/api/layer/check", json=req).json()
    assert ok["valid"] and ok["allowed_groups"] == [1, 2]
    bad = client.post("/api/layer/check", json={**req, "layer": {**req["layer"], "groups": 3}}).json()
    assert not bad["valid"] and bad["allowed_groups"] == [1, 2]
    preset = client.post("/api/layer/check", json={"input": {"kind": "sample", "name": "colour"},
                                                   "weights": {"kind": "preset", "name": "sobel_x"}}).json()
    assert preset["allowed_groups"] == [3]  # depthwise: groups = C_in, fixed by the preset


def test_convolve_returns_the_busiest_region_when_asked(client):
    req = {"input": {"kind": "sample", "name": "colour"}, "layer": {"padding": 1}}
    assert client.post("/api/convolve", json=req).json()["region"] is None
    region = client.post("/api/convolve", json={**req, "region_size": 12}).json()["region"]
    assert region["row_stop"] - region["row_start"] == 12 and region["col_stop"] - region["col_start"] == 12
    assert (region["row_start"], region["col_start"]) != (0, 0)  # the corner is padding and flat colour


def test_a_preview_sends_every_step_th_value_exactly(client):
    req = {"input": {"kind": "random", "shape": [2, 100, 37]}, "layer": {"padding": 1}}
    full = decode_array(client.post("/api/convolve", json=req).json()["output"])
    res = client.post("/api/convolve", json={**req, "preview_size": 40}).json()
    assert res["output_step"] == 3 and res["output_shape"] == [4, 100, 37]  # ⌈100 / 40⌉ = 3
    assert np.array_equal(decode_array(res["output"]), full[:, ::3, ::3])
    small = client.post("/api/convolve", json={**req, "preview_size": 100}).json()
    assert small["output_step"] == 1 and np.array_equal(decode_array(small["output"]), full)
