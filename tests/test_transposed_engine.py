"""Transposed convolution: the engine against torch.nn.functional.conv_transpose2d, both readings of the
trace against each other and the engine, shapes and costs against torch."""
from __future__ import annotations

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from hypothesis import assume, given, settings, strategies as st
from torch.utils.flop_counter import FlopCounterMode

from app.engine import GeometryError
from app.engine.conv import conv2d
from app.engine.cost import transposed_cost, zero_inserted_macs
from app.engine.geometry import (conv_inputs_for_output, output_size, transposed_geometry,
                                 transposed_output_size)
from app.engine.transposed import conv_transpose2d, gather_canvas, trace_transposed
from tests.test_engine_vs_torch import close

torch.set_num_threads(1)


@st.composite
def tconv_cases(draw):
    groups = draw(st.integers(1, 3))
    c_in, c_out = groups * draw(st.integers(1, 3)), groups * draw(st.integers(1, 3))
    kernel = (draw(st.integers(1, 5)), draw(st.integers(1, 5)))
    stride = (draw(st.integers(1, 3)), draw(st.integers(1, 3)))
    dilation = (draw(st.integers(1, 3)), draw(st.integers(1, 3)))
    padding = (draw(st.integers(0, 4)), draw(st.integers(0, 4)))
    out_pad = tuple(draw(st.integers(0, max(s, d) - 1)) for s, d in zip(stride, dilation))
    h, w = draw(st.integers(1, 9)), draw(st.integers(1, 9))
    for i, k, s, p, op, d in zip((h, w), kernel, stride, padding, out_pad, dilation):
        assume(transposed_output_size(i, k, s, p, op, d) >= 1)
    return dict(c_in=c_in, c_out=c_out, h=h, w=w, kernel=kernel, stride=stride, padding=padding,
                output_padding=out_pad, dilation=dilation, groups=groups, bias=draw(st.booleans()),
                band_bytes=draw(st.sampled_from([1, 200, 16 * 2**20])), seed=draw(st.integers(0, 2**32 - 1)))


def tensors(case):
    rng = np.random.default_rng(case["seed"])
    x = rng.standard_normal((case["c_in"], case["h"], case["w"]), dtype=np.float32)
    w = rng.standard_normal((case["c_in"], case["c_out"] // case["groups"], *case["kernel"]), dtype=np.float32)
    b = rng.standard_normal(case["c_out"], dtype=np.float32) if case["bias"] else None
    return x, w, b


def args(case) -> tuple:
    return case["stride"], case["padding"], case["output_padding"], case["dilation"]


def torch_tconv(x, w, b, stride, padding, output_padding, dilation, groups):
    return F.conv_transpose2d(torch.from_numpy(x), torch.from_numpy(w), None if b is None else torch.from_numpy(b),
                              stride, padding, output_padding, groups, dilation).numpy()


@settings(max_examples=300, deadline=None)
@given(tconv_cases())
def test_conv_transpose2d_matches_torch(case):
    x, w, b = tensors(case)
    ours = conv_transpose2d(x, w, b, *args(case), case["groups"], band_bytes=case["band_bytes"])
    close(ours, torch_tconv(x, w, b, *args(case), case["groups"]))


def gather_by_conv2d(x, w, b, stride, padding, output_padding, dilation, groups):
    """The guide's reading built by hand: insert s − 1 zeros, pad d·(k−1)−p (+ output_padding at the end;
    negative means crop), rotate the kernel and swap its channel axes, convolve with stride 1."""
    c, h, wd = x.shape
    (sh, sw), (kh, kw) = stride, w.shape[2:]
    z = np.zeros((c, (h - 1) * sh + 1, (wd - 1) * sw + 1), dtype=np.float32)
    z[:, ::sh, ::sw] = x
    pads = []
    for k, d, p, op in zip((kh, kw), dilation, padding, output_padding):
        pads.append((d * (k - 1) - p, d * (k - 1) - p + op))
    # negative padding crops: pad the positive sides, then cut the negative ones
    (t, bt), (l, r) = pads
    z = np.pad(z, ((0, 0), (max(0, t), max(0, bt)), (max(0, l), max(0, r))))
    z = z[:, max(0, -t):z.shape[1] - max(0, -bt), max(0, -l):z.shape[2] - max(0, -r)]
    og = w.shape[1]
    w_direct = w.reshape(groups, -1, og, kh, kw).transpose(0, 2, 1, 3, 4).reshape(groups * og, -1, kh, kw)
    return conv2d(z, w_direct, b, 1, 0, dilation, groups, flip=True)


@settings(max_examples=150, deadline=None)
@given(tconv_cases())
def test_gather_reading_as_a_direct_convolution_equals_the_engine(case):
    x, w, b = tensors(case)
    t = gather_by_conv2d(x, w, b, *args(case), case["groups"])
    close(conv_transpose2d(x, w, b, *args(case), case["groups"]), t)
    # the page's picture of the gather reading is the same zero-inserted, padded input
    g = transposed_geometry(x.shape, case["c_out"], case["kernel"], *args(case)[:3], case["dilation"], case["groups"])
    og, (kh, kw) = w.shape[1], case["kernel"]
    w_direct = w.reshape(case["groups"], -1, og, kh, kw).transpose(0, 2, 1, 3, 4).reshape(case["c_out"], -1, kh, kw)
    close(conv2d(gather_canvas(x, g), w_direct, b, 1, 0, case["dilation"], case["groups"], flip=True), t)


@settings(max_examples=60, deadline=None)
@given(tconv_cases())
def test_trace_scatter_equals_gather_equals_engine_at_every_position(case):
    x, w, b = tensors(case)
    out = conv_transpose2d(x, w, b, *args(case), case["groups"])
    g = transposed_geometry(x.shape, case["c_out"], case["kernel"], *args(case)[:3], case["dilation"], case["groups"])
    for c in range(g.out_channels):
        for r in range(g.out_height):
            for q in range(g.out_width):
                t = trace_transposed(x, w, b, g, c, r, q)
                assert t.scatter_sum == pytest.approx(t.gather_sum, rel=1e-12, abs=1e-12)
                assert abs(t.value - float(out[c, r, q])) <= 1e-4 * (1 + float(np.abs(out).max()))
                # the gather window's non-zero products are exactly the scatter stamps
                nonzero_taps = int(np.count_nonzero((t.windows != 0) | (t.products != 0)))
                assert nonzero_taps <= len(t.stamps)
                assert sorted(s.product for s in t.stamps) == \
                    sorted(float(p) for p, r_, c_ in _window_products(t))


def _window_products(t):
    """Products of the gather window at taps that show an input pixel (not an inserted zero or padding)."""
    for ci in range(len(t.input_channels)):
        for i, sr in enumerate(t.source_rows):
            for j, sc in enumerate(t.source_cols):
                if sr >= 0 and sc >= 0:
                    yield t.products[ci, i, j], sr, sc


def test_trace_names_the_input_pixels_of_a_stride_2_stamp():
    """k=3, s=2, p=1 on a 2×2 input: output (1, 1) sits under input (0, 0)'s stamp at tap (2, 2),
    (0, 1)'s at (2, 0), (1, 0)'s at (0, 2) and (1, 1)'s at (0, 0), since r + p = y·s + i·d."""
    x = np.arange(1, 5, dtype=np.float32).reshape(1, 2, 2)
    w = np.arange(1, 10, dtype=np.float32).reshape(1, 1, 3, 3)
    g = transposed_geometry(x.shape, 1, 3, 2, 1)
    t = trace_transposed(x, w, None, g, 0, 1, 1)
    assert {(s.row, s.col, s.tap_row, s.tap_col) for s in t.stamps} == {(0, 0, 2, 2), (0, 1, 2, 0), (1, 0, 0, 2),
                                                                          (1, 1, 0, 0)}
    assert t.value == 1 * 9 + 2 * 7 + 3 * 3 + 4 * 1
    # each stamp's tap (0, 0) lands at row·s − p: input (1, 1) stamps from output (1, 1)
    assert {(s.row, s.col): (s.origin_row, s.origin_col) for s in t.stamps}[(1, 1)] == (2 - 1, 2 - 1)
    # gather: padding d·(k−1)−p = 1, window rows 1..3 of the zero-inserted, padded input show input rows 0, −, 1
    assert t.source_rows == (0, -1, 1) and t.source_cols == (0, -1, 1)


@pytest.mark.parametrize("i,k,s,p,op,d", [(4, 3, 2, 1, 1, 1), (5, 4, 3, 0, 2, 1), (7, 3, 1, 2, 0, 2),
                                          (3, 5, 2, 4, 1, 1), (1, 1, 1, 0, 0, 1)])
def test_output_size_is_torchs(i, k, s, p, op, d):
    x = torch.zeros(1, 1, i, i)
    w = torch.zeros(1, 1, k, k)
    assert transposed_output_size(i, k, s, p, op, d) == F.conv_transpose2d(x, w, None, s, p, op, 1, d).shape[-1]


@pytest.mark.parametrize("kw,message", [
    (dict(stride=2, output_padding=2), "smaller than the stride"), (dict(padding=5), "crops the whole output"),
    (dict(groups=2), "must divide in_channels"), (dict(padding=-1), "≥ 0")])
def test_invalid_layers_are_refused_as_torch_refuses_them(kw, message):
    base = dict(stride=1, padding=0, output_padding=0, dilation=1, groups=1)
    base.update(kw)
    with pytest.raises(GeometryError, match=message):
        transposed_geometry((3, 4, 4), 2, 3, base["stride"], base["padding"], base["output_padding"],
                            base["dilation"], base["groups"])
    with pytest.raises(RuntimeError):
        F.conv_transpose2d(torch.zeros(1, 3, 4, 4), torch.zeros(3, 2 // base["groups"] or 1, 3, 3), None,
                           base["stride"], base["padding"], base["output_padding"], base["groups"], base["dilation"])


@pytest.mark.parametrize("o,k,s,p,d", [(3, 3, 2, 1, 1), (4, 4, 3, 0, 1), (5, 3, 1, 1, 1), (2, 3, 2, 0, 2)])
def test_output_padding_picks_which_input_shape_a_transposed_convolution_restores(o, k, s, p, d):
    """A stride-s convolution maps s input lengths onto one output length; output_padding = i − smallest
    restores each of them, and no other length maps to o."""
    lengths = conv_inputs_for_output(o, k, s, p, d)
    assert [i for i in range(1, 60) if output_size(i, k, s, p, p, d) == o] == list(lengths)
    for i in lengths:
        assert transposed_output_size(o, k, s, p, i - lengths.start, d) == i


@pytest.mark.parametrize("shape,c_out,k,s,p,op,d,groups", [
    ((8, 5, 7), 6, 3, 2, 1, 1, 1, 1), ((4, 6, 6), 8, (4, 2), (2, 1), 0, 0, 2, 2), ((6, 3, 3), 6, 5, 3, 2, 2, 1, 3)])
def test_macs_are_what_torchs_flop_counter_counts(shape, c_out, k, s, p, op, d, groups):
    g = transposed_geometry(shape, c_out, k, s, p, op, d, groups)
    x = torch.zeros(1, *shape)
    w = torch.zeros(*g.weight_shape)
    with FlopCounterMode(display=False) as counter:
        F.conv_transpose2d(x, w, None, s, p, op, groups, d)
    cost = transposed_cost(g, bias=True)
    assert counter.get_total_flops() == cost.flops == 2 * cost.macs
    assert cost.params == shape[0] * (c_out // groups) * g.kernel[0] * g.kernel[1] + c_out
    # the gather reading run naively multiplies by every inserted zero as well
    assert zero_inserted_macs(g) == c_out * g.out_height * g.out_width * (shape[0] // groups) * g.kernel[0] * g.kernel[1]
