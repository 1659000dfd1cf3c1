"""Output size, parameters and MACs: written as arithmetic, and checked against real output shapes."""
from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings, strategies as st

from app.engine import conv2d, conv_cost, conv_geometry, output_size, pool_geometry, max_pool2d
from app.engine.cost import flops_from_macs


@pytest.mark.parametrize("i, k, s, p, d, expected", [
    # conv_arithmetic (Dumoulin & Visin) relationships: o = ⌊(i + 2p − k)/s⌋ + 1, dilated k' = k + (k−1)(d−1)
    (4, 3, 1, 0, 1, 2),      # no padding, unit stride
    (5, 4, 1, 2, 1, 6),      # arbitrary padding: 5 − 4 + 2·2 + 1
    (5, 3, 1, 1, 1, 5),      # half ("same") padding
    (5, 3, 1, 2, 1, 7),      # full padding: i + k − 1
    (5, 3, 2, 0, 1, 2),      # strided
    (6, 3, 2, 1, 1, 3),      # ⌊(6 + 2 − 3)/2⌋ + 1
    (7, 3, 1, 0, 2, 3),      # dilated: k' = 5, 7 − 5 + 1
    (56, 1, 1, 0, 1, 56),    # 1×1 keeps H and W
])
def test_output_size(i, k, s, p, d, expected):
    assert output_size(i, k, s, p, p, d) == expected


def test_the_seed_example_costs():
    """256→256 with a 4×4 kernel vs a 1×1 reduction to 64 first (bias off, as the example counts)."""
    naive = conv_cost(conv_geometry((256, 28, 28), 256, 4, padding="same"), bias=False)
    reduce = conv_cost(conv_geometry((256, 28, 28), 64, 1), bias=False)
    expand = conv_cost(conv_geometry((64, 28, 28), 256, 4, padding="same"), bias=False)
    assert naive.params == 256 * 256 * 4 * 4 == 1_048_576
    assert reduce.params + expand.params == 256 * 64 + 64 * 256 * 4 * 4 == 278_528
    assert round(naive.params / (reduce.params + expand.params), 2) == 3.76
    assert naive.macs == 28 * 28 * 256 * 256 * 16
    assert naive.flops == flops_from_macs(naive.macs) == 2 * naive.macs


def test_bias_policy():
    g = conv_geometry((3, 10, 10), 8, 3)
    with_bias, without = conv_cost(g, bias=True), conv_cost(g, bias=False)
    assert with_bias.params == without.params + 8
    assert with_bias.macs == without.macs  # bias adds are not MACs
    assert with_bias.bias_adds == 8 * 8 * 8 and without.bias_adds == 0
    assert with_bias.bytes_weights == (8 * 3 * 9 + 8) * 4


def test_groups_divide_params_and_macs():
    dense = conv_cost(conv_geometry((64, 16, 16), 64, 3, padding=1), bias=False)
    depthwise = conv_cost(conv_geometry((64, 16, 16), 64, 3, padding=1, groups=64), bias=False)
    assert dense.params == 64 * 64 * 9 and depthwise.params == 64 * 9
    assert dense.macs == 64 * depthwise.macs


@settings(max_examples=100, deadline=None)
@given(st.integers(1, 4), st.integers(1, 4), st.integers(3, 12), st.integers(3, 12), st.integers(1, 3),
       st.integers(1, 2), st.integers(0, 2), st.integers(1, 2))
def test_formulas_agree_with_real_output(c_in, c_out, h, w, k, s, p, d):
    g = conv_geometry((c_in, h, w), c_out, k, s, p, d) if output_size(min(h, w), k, s, p, p, d) >= 1 else None
    if g is None:
        return
    x = np.ones((c_in, h, w), dtype=np.float32)
    wt = np.ones(g.weight_shape, dtype=np.float32)
    out = conv2d(x, wt, None, s, p, d)
    assert out.shape == g.output_shape
    cost = conv_cost(g, bias=False)
    assert cost.params == wt.size
    assert cost.bytes_output == out.nbytes and cost.bytes_input == x.nbytes
    # With all-ones input and weights and no padding, every output equals its MAC count, so their sum is MACs.
    if p == 0:
        assert int(out.sum()) == cost.macs


def test_pool_geometry_matches_real_pooling():
    g = pool_geometry((3, 9, 9), 2)
    assert g.output_shape == (3, 4, 4) == max_pool2d(np.zeros((3, 9, 9)), 2).shape
