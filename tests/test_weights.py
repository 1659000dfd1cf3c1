"""Presets do what their one-line descriptions say, on real pixels."""
from __future__ import annotations

import numpy as np
import pytest

from app.engine import GeometryError, conv2d
from app.inputs.samples import sample_tensor
from app.weights import PRESETS, preset_layout, preset_weights, random_weights


def apply(name, x, mode="depthwise", **kw):
    w, b = preset_weights(name, x.shape[0], mode)
    return conv2d(x, w, b, groups=preset_layout(name, x.shape[0], mode).groups, **kw)


def test_greyscale_is_bt601_luma():
    x = np.random.default_rng(0).random((3, 5, 5), dtype=np.float32)
    expected = 0.299 * x[0] + 0.587 * x[1] + 0.114 * x[2]
    assert np.allclose(apply("greyscale", x)[0], expected, atol=1e-6)


def test_ycbcr_maps_white_and_red_to_known_values():
    x = np.zeros((3, 1, 2), dtype=np.float32)
    x[:, 0, 0] = 1.0                    # white
    x[0, 0, 1] = 1.0                    # pure red
    y = apply("ycbcr", x)
    assert np.allclose(y[:, 0, 0], [1.0, 0.5, 0.5], atol=1e-5)
    assert np.allclose(y[:, 0, 1], [0.299, 0.5 - 0.168736, 1.0], atol=1e-5)


def test_channel_swap_reverses_channels():
    x = sample_tensor("colour")
    assert np.array_equal(apply("channel_swap", x), x[::-1])


@pytest.mark.parametrize("mode", ["depthwise", "per_channel"])
def test_identity_presets_copy_the_input(mode):
    x = sample_tensor("colour")
    assert np.allclose(apply("identity", x, mode, padding=1), x)
    assert np.allclose(apply("identity_1x1", x), x)


def test_sobel_x_sees_vertical_edges_and_not_horizontal_ones():
    x = np.zeros((1, 8, 8), dtype=np.float32)
    x[:, :, 4:] = 1.0                   # a vertical edge
    assert np.abs(apply("sobel_x", x)).max() == 4.0
    assert np.abs(apply("sobel_y", x)).max() == 0.0


def test_laplacian_and_blurs_on_flat_input():
    x = np.full((2, 6, 6), 0.5, dtype=np.float32)
    assert np.abs(apply("laplacian", x)).max() == 0
    assert np.allclose(apply("box_blur", x), 0.5) and np.allclose(apply("gaussian", x), 0.5)


def test_preset_needing_rgb_refuses_other_inputs():
    with pytest.raises(GeometryError, match="needs an input with 3 channels, this input has 1"):
        preset_layout("greyscale", 1)


def test_every_preset_has_a_description_and_builds():
    for p in PRESETS.values():
        assert len(p.description) > 10
        c = p.needs_channels or 4
        w, b = preset_weights(p.name, c)
        lay = preset_layout(p.name, c)
        assert w.shape == (lay.out_channels, c // lay.groups, *lay.kernel)


def test_random_weights_are_seeded_with_kaiming_scale():
    w1, b1 = random_weights((64, 32, 3, 3), seed=3, with_bias=True)
    w2, _ = random_weights((64, 32, 3, 3), seed=3, with_bias=True)
    assert np.array_equal(w1, w2) and b1.shape == (64,)
    assert abs(w1.std() - np.sqrt(2 / (32 * 9))) < 0.01
