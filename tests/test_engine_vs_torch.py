"""The NumPy engine against torch.nn.functional, the independent oracle, over random layers."""
from __future__ import annotations

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from hypothesis import assume, given, settings, strategies as st

from app.engine import GeometryError, avg_pool2d, conv2d, conv_geometry, max_pool2d, output_size, trace_position
from app.engine.conv import _im2col, _im2col_runs, _parallel_parts, _row_taps, pad_input
from app.engine.lowering import rule_path as _path

torch.set_num_threads(1)


def close(ours: np.ndarray, ref: np.ndarray) -> None:
    """float32 tolerance from the issue: max |ours − ref| ≤ 1e-4 · (1 + max |ref|)."""
    assert ours.shape == ref.shape
    assert ours.dtype == np.float32
    tol = 1e-4 * (1 + float(np.abs(ref).max(initial=0)))
    assert float(np.abs(ours - ref).max(initial=0)) <= tol


def torch_conv(x, w, b, stride, padding, dilation, groups, flip):
    wt = torch.from_numpy(w)
    if flip:
        wt = wt.flip(-1, -2)  # textbook convolution = cross-correlation with the kernel rotated 180°
    bt = None if b is None else torch.from_numpy(b)
    return F.conv2d(torch.from_numpy(x), wt, bt, stride, padding, dilation, groups).numpy()


@st.composite
def conv_cases(draw):
    groups = draw(st.integers(1, 4))
    c_in, c_out = groups * draw(st.integers(1, 3)), groups * draw(st.integers(1, 3))
    kernel = (draw(st.integers(1, 5)), draw(st.integers(1, 5)))  # 1, even and rectangular kernels
    dilation = (draw(st.integers(1, 3)), draw(st.integers(1, 3)))
    padding = draw(st.one_of(st.integers(0, 3), st.tuples(st.integers(0, 3), st.integers(0, 3)),
                             st.sampled_from(["valid", "same"])))
    stride = (1, 1) if padding == "same" else (draw(st.integers(1, 3)), draw(st.integers(1, 3)))
    h, w = draw(st.integers(1, 14)), draw(st.integers(1, 14))
    ph, pw = (padding, padding) if isinstance(padding, int) else (0, 0) if isinstance(padding, str) else padding
    if padding != "same":
        assume(output_size(h, kernel[0], stride[0], ph, ph, dilation[0]) >= 1)
        assume(output_size(w, kernel[1], stride[1], pw, pw, dilation[1]) >= 1)
    seed = draw(st.integers(0, 2**32 - 1))
    return dict(c_in=c_in, c_out=c_out, h=h, w=w, kernel=kernel, stride=stride, padding=padding,
                dilation=dilation, groups=groups, bias=draw(st.booleans()), flip=draw(st.booleans()),
                chunk_bytes=draw(st.sampled_from([1, 256, 32 * 2**20])), seed=seed)


def make_tensors(case):
    rng = np.random.default_rng(case["seed"])
    x = rng.standard_normal((case["c_in"], case["h"], case["w"]), dtype=np.float32)
    w = rng.standard_normal((case["c_out"], case["c_in"] // case["groups"], *case["kernel"]), dtype=np.float32)
    b = rng.standard_normal(case["c_out"], dtype=np.float32) if case["bias"] else None
    return x, w, b


def layer_args(case) -> tuple:
    """stride, padding, dilation, groups, flip: the positional tail of conv2d and torch_conv."""
    return case["stride"], case["padding"], case["dilation"], case["groups"], case["flip"]


def assert_engine_matches_torch(case, x, w, b) -> None:
    close(conv2d(x, w, b, *layer_args(case), chunk_bytes=case["chunk_bytes"]), torch_conv(x, w, b, *layer_args(case)))


@settings(max_examples=300, deadline=None)
@given(conv_cases())
def test_conv2d_matches_torch(case):
    assert_engine_matches_torch(case, *make_tensors(case))


@settings(max_examples=150, deadline=None)
@given(conv_cases())
def test_stride_1_runs_path_equals_the_window_path_and_torch(case):
    """The stride-1 fast path reads past each row's end on purpose; it must never show in the output."""
    case = {**case, "stride": (1, 1)}
    x, w, _ = make_tensors(case)
    geom = conv_geometry(x.shape, w.shape[0], w.shape[2:], 1, case["padding"], case["dilation"], case["groups"])
    if geom.out_height < 1 or geom.out_width < 1:
        return
    fast = _im2col_runs(x, w, geom, case["chunk_bytes"])
    close(fast, _im2col(pad_input(x, geom), w, geom, case["chunk_bytes"]))
    close(fast, torch_conv(x, w, None, 1, case["padding"], case["dilation"], case["groups"], False))


@settings(max_examples=100, deadline=None)
@given(conv_cases(), st.integers(2, 4))
def test_threads_share_groups_in_the_runs_path(case, parts):
    """Grouped layers can share their groups among threads: the same request gives the same numbers
    every time, and agrees with one thread and with torch to rounding."""
    x, w, _ = make_tensors(case)
    geom = conv_geometry(x.shape, w.shape[0], w.shape[2:], 1, case["padding"], case["dilation"], case["groups"])
    many = _im2col_runs(x, w, geom, case["chunk_bytes"], parts)
    assert np.array_equal(many, _im2col_runs(x, w, geom, case["chunk_bytes"], parts))
    close(many, _im2col_runs(x, w, geom, case["chunk_bytes"], 1))
    close(many, torch_conv(x, w, None, 1, case["padding"], case["dilation"], case["groups"], False))


def test_a_large_depthwise_layer_uses_the_threads_and_each_path_is_chosen_where_measured():
    rng = np.random.default_rng(7)
    x = rng.standard_normal((64, 96, 96), dtype=np.float32)
    w = rng.standard_normal((64, 1, 3, 3), dtype=np.float32)
    geom = conv_geometry(x.shape, 64, 3, 1, 1, 1, 64)
    assert _parallel_parts(geom, 2) == 2 and _path(geom) == "depthwise"
    close(conv2d(x, w, None, 1, 1, 1, 64, threads=2), torch_conv(x, w, None, 1, 1, 1, 64, False))
    assert _path(conv_geometry((3, 96, 128), 4, 3, 1, 1)) == "row_taps"             # small
    assert _path(conv_geometry((64, 56, 56), 64, 3, 1, 1)) == "row_taps"            # wide
    assert _path(conv_geometry((3, 256, 256), 16, 3, 1, 1)) == "runs"               # thin and large
    assert _path(conv_geometry((16, 256, 256), 16, 3, 1, 1, 1, 16)) == "depthwise"  # one channel per group
    assert _path(conv_geometry((3, 1024, 1024), 3, 3, 1, 1)) == "row_taps"          # few filters
    assert _path(conv_geometry((64, 56, 56), 64, 5, 2, 4, 2)) == "windows"          # strided
    assert _path(conv_geometry((64, 56, 56), 64, 1)) == "pointwise"


@st.composite
def wide_cases(draw):
    """Layers wide enough for the kernel-row path: > 8 filters per group, C_in/G·k_W ≥ 32."""
    case = draw(conv_cases())
    groups = draw(st.integers(1, 2))
    kw = case["kernel"][1]
    cg = draw(st.integers(-(-32 // kw), 40))
    stride = (1, 1) if case["padding"] == "same" else (1, case["stride"][1])
    return {**case, "groups": groups, "c_in": groups * cg, "c_out": groups * draw(st.integers(9, 12)),
            "stride": stride, "chunk_bytes": draw(st.sampled_from([1, 40_000, 32 * 2**20]))}


@settings(max_examples=60, deadline=None)
@given(wide_cases())
def test_kernel_row_path_equals_the_window_path_and_torch(case):
    x, w, b = make_tensors(case)
    geom = conv_geometry(x.shape, w.shape[0], w.shape[2:], case["stride"], case["padding"], case["dilation"],
                         case["groups"])
    fast = _row_taps(pad_input(x, geom), w, geom, case["chunk_bytes"])
    close(fast, _im2col(pad_input(x, geom), w, geom, case["chunk_bytes"]))
    assert_engine_matches_torch(case, x, w, b)


@settings(max_examples=150, deadline=None)
@given(conv_cases())
def test_trace_total_equals_engine_output(case):
    x, w, b = make_tensors(case)
    out = conv2d(x, w, b, *layer_args(case))
    g = conv_geometry(x.shape, w.shape[0], w.shape[2:], case["stride"], case["padding"], case["dilation"],
                      case["groups"])
    rng = np.random.default_rng(case["seed"] + 1)
    for _ in range(3):
        c, i, j = (int(rng.integers(n)) for n in out.shape)
        t = trace_position(x, w, b, g, c, i, j, flip=case["flip"], relu=True)
        assert t.pre_activation == pytest.approx(float(out[c, i, j]), abs=1e-4 * (1 + float(np.abs(out).max())))
        assert t.value == max(t.pre_activation, 0.0)
        assert np.allclose(t.partial_sums.sum() + t.bias, t.pre_activation)
        assert (t.windows[:, t.is_padding] == 0).all()
        # a window cell is padding exactly when its input coordinate falls outside the image
        outside = (np.array(t.input_rows)[:, None] < 0) | (np.array(t.input_rows)[:, None] >= case["h"]) | \
                  (np.array(t.input_cols)[None, :] < 0) | (np.array(t.input_cols)[None, :] >= case["w"])
        assert (t.is_padding == outside).all()


@st.composite
def pointwise_cases(draw):
    groups = draw(st.integers(1, 3))
    return dict(c_in=groups * draw(st.integers(1, 6)), c_out=groups * draw(st.integers(1, 6)),
                h=draw(st.integers(1, 12)), w=draw(st.integers(1, 12)), groups=groups,
                stride=draw(st.integers(1, 3)), padding=draw(st.integers(0, 2)), seed=draw(st.integers(0, 2**31)))


@settings(max_examples=150, deadline=None)
@given(pointwise_cases())
def test_pointwise_path_equals_general_path_torch_and_per_pixel_matvec(case):
    rng = np.random.default_rng(case["seed"])
    x = rng.standard_normal((case["c_in"], case["h"], case["w"]), dtype=np.float32)
    w = rng.standard_normal((case["c_out"], case["c_in"] // case["groups"], 1, 1), dtype=np.float32)
    s, p, g_ = case["stride"], case["padding"], case["groups"]
    fast = conv2d(x, w, None, s, p, 1, g_)
    geom = conv_geometry(x.shape, case["c_out"], (1, 1), s, p, 1, g_)
    general = _im2col(pad_input(x, geom), w, geom, 1024)
    close(fast, general)
    close(fast, torch_conv(x, w, None, s, p, 1, g_, False))
    if g_ == 1 and s == 1 and p == 0:  # the lesson: each output pixel is W · (that pixel's channel vector)
        m = w[:, :, 0, 0]
        per_pixel = np.array([[m @ x[:, i, j] for j in range(case["w"])] for i in range(case["h"])])  # (H, W, C_out)
        close(fast, per_pixel.transpose(2, 0, 1).astype(np.float32))


@settings(max_examples=200, deadline=None)
@given(st.integers(1, 4), st.integers(1, 12), st.integers(1, 12), st.integers(1, 4), st.integers(1, 4),
       st.integers(1, 3), st.integers(1, 3), st.integers(0, 2), st.integers(0, 2**31))
def test_pooling_matches_torch(c, h, w, kh, kw, sh, sw, pad, seed):
    assume(pad <= kh // 2 and pad <= kw // 2)
    assume(h + 2 * pad >= kh and w + 2 * pad >= kw)
    x = np.random.default_rng(seed).standard_normal((c, h, w), dtype=np.float32)
    xt = torch.from_numpy(x)
    close(max_pool2d(x, (kh, kw), (sh, sw), pad), F.max_pool2d(xt, (kh, kw), (sh, sw), pad).numpy())
    close(avg_pool2d(x, (kh, kw), (sh, sw), pad), F.avg_pool2d(xt, (kh, kw), (sh, sw), pad).numpy())


def test_depthwise_matches_torch():
    rng = np.random.default_rng(7)
    x = rng.standard_normal((16, 20, 20), dtype=np.float32)
    w = rng.standard_normal((16, 1, 3, 3), dtype=np.float32)
    close(conv2d(x, w, None, 2, 1, 1, 16), torch_conv(x, w, None, 2, 1, 1, 16, False))


def test_flip_is_a_true_convolution():
    """A single 1 in the input reproduces the kernel itself under convolution, rotated under correlation."""
    x = np.zeros((1, 5, 5), dtype=np.float32)
    x[0, 2, 2] = 1
    k = np.arange(9, dtype=np.float32).reshape(1, 1, 3, 3)
    assert (conv2d(x, k, padding=1, flip=True)[0, 1:4, 1:4] == k[0, 0]).all()
    assert (conv2d(x, k, padding=1)[0, 1:4, 1:4] == k[0, 0, ::-1, ::-1]).all()


@pytest.mark.parametrize("shape, kernel, kwargs, message", [
    ((3, 8, 8), (3, 3), {"groups": 2}, "groups=2 must divide in_channels=3"),
    ((3, 4, 4), (7, 7), {}, "larger than the padded input [4, 4]"),
    ((3, 4, 4), (3, 3), {"dilation": 3}, "spans [7, 7]"),
    ((3, 8, 8), (3, 3), {"padding": "same", "stride": 2}, 'padding="same" needs stride 1'),
    ((3, 8, 8), (3, 3), {"stride": 0}, "stride must be ≥ 1"),
])
def test_invalid_layers_say_what_is_wrong(shape, kernel, kwargs, message):
    with pytest.raises(GeometryError) as err:
        conv_geometry(shape, 6, kernel, **kwargs)
    assert message in str(err.value)


@settings(max_examples=100, deadline=None)
@given(conv_cases())
def test_batched_trace_equals_single_traces(case):
    from app.engine.trace import trace_positions
    x, w, b = make_tensors(case)
    g = conv_geometry(x.shape, w.shape[0], w.shape[2:], case["stride"], case["padding"], case["dilation"],
                      case["groups"])
    rng = np.random.default_rng(case["seed"])
    positions = [(int(rng.integers(g.out_channels)), int(rng.integers(g.out_height)), int(rng.integers(g.out_width)))
                 for _ in range(4)]
    many = trace_positions(x, w, b, g, positions, flip=case["flip"], relu=True)
    for (c, i, j), t in zip(positions, many):
        one = trace_position(x, w, b, g, c, i, j, flip=case["flip"], relu=True)
        assert (t.out_channel, t.row, t.col, t.input_channels) == (one.out_channel, one.row, one.col, one.input_channels)
        assert t.input_rows == one.input_rows and t.input_cols == one.input_cols
        assert np.array_equal(t.is_padding, one.is_padding) and np.array_equal(t.windows, one.windows)
        assert np.array_equal(t.products, one.products)
        assert t.value == pytest.approx(one.value, rel=1e-12, abs=1e-12)
