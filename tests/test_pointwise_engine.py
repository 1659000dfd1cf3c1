"""Every equivalence the 1×1 page claims, checked two ways in NumPy and against torch."""
from __future__ import annotations

import numpy as np
import torch
import torch.nn.functional as F
from hypothesis import given, settings, strategies as st

from app.engine.pointwise import conv_stack, fc_as_conv, mlp_per_pixel, pointwise_as_matmul

TOL = 1e-4


def rand(seed, *shape):
    return np.random.default_rng(seed).standard_normal(shape, dtype=np.float32)


@settings(max_examples=60, deadline=None)
@given(st.integers(1, 16), st.integers(1, 16), st.integers(1, 10), st.integers(1, 10), st.integers(0, 10**6))
def test_1x1_is_a_matmul_and_a_per_pixel_linear_map(c_in, c_out, h, w, seed):
    x, wt, b = rand(seed, c_in, h, w), rand(seed + 1, c_out, c_in, 1, 1), rand(seed + 2, c_out)
    v = pointwise_as_matmul(x, wt, b)
    assert v.x_matrix.shape == (h * w, c_in) and v.w_matrix.shape == (c_in, c_out) and v.y_matrix.shape == (h * w, c_out)
    assert v.max_abs_conv_vs_matmul <= TOL and v.max_abs_conv_vs_per_pixel <= TOL
    ref = F.conv2d(torch.from_numpy(x), torch.from_numpy(wt), torch.from_numpy(b)).numpy()
    assert np.abs(v.conv - ref).max() <= TOL * (1 + np.abs(ref).max())
    # row p of X is pixel p's channel vector; row p of Y is W·x + b for that pixel alone
    i, j = h // 2, w // 3
    p = i * w + j
    assert np.array_equal(v.x_matrix[p], x[:, i, j])
    assert np.allclose(v.y_matrix[p], wt[:, :, 0, 0] @ x[:, i, j] + b, atol=TOL)


@settings(max_examples=40, deadline=None)
@given(st.lists(st.integers(1, 12), min_size=2, max_size=4), st.integers(1, 8), st.integers(0, 10**6))
def test_nin_stack_is_a_per_pixel_mlp(widths, size, seed):
    x = rand(seed, widths[0], size, size)
    layers = [(rand(seed + k, widths[k + 1], widths[k], 1, 1), rand(seed + 100 + k, widths[k + 1]))
              for k in range(len(widths) - 1)]
    stacked = conv_stack(x, layers)[-1]
    assert np.abs(stacked - mlp_per_pixel(x, layers)).max() <= TOL * (1 + np.abs(stacked).max())
    t = torch.from_numpy(x)
    for w, b in layers:
        t = torch.relu(F.conv2d(t, torch.from_numpy(w), torch.from_numpy(b)))
    assert np.abs(stacked - t.numpy()).max() <= TOL * (1 + np.abs(stacked).max())


def test_fc_over_7x7_is_a_7x7_conv_and_slides_into_a_score_map():
    c, k, o = 4, 7, 5
    x, w_fc, b = rand(0, c, 14, 14), rand(1, o, c * k * k), rand(2, o)
    r = fc_as_conv(x, w_fc, b, k)
    fc_torch = F.linear(torch.from_numpy(x[:, :k, :k].reshape(-1)), torch.from_numpy(w_fc), torch.from_numpy(b))
    assert np.abs(r.fc_scores - fc_torch.numpy()).max() <= 1e-4
    assert r.max_abs_block <= 1e-4
    assert r.score_map.shape == (o, 14 - 7 + 1, 14 - 7 + 1) and r.max_abs_map <= 1e-4
    # the score at (i, j) is the FC layer applied to the 7×7 crop starting there
    crop = x[:, 3:10, 5:12].reshape(-1)
    assert np.allclose(r.score_map[:, 3, 5], w_fc @ crop + b, atol=1e-4)


def test_fc_on_a_vector_is_a_1x1_conv():
    x, w, b = rand(3, 6, 1, 1), rand(4, 3, 6), rand(5, 3)
    r = fc_as_conv(x, w, b, 1)
    assert r.max_abs_block <= 1e-5 and np.allclose(r.fc_scores, w @ x[:, 0, 0] + b, atol=1e-5)
