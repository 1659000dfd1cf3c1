"""Max and average pooling and ReLU, with PyTorch's semantics (floor mode; average counts padding).

They exist for the comparison at the heart of convlens: pooling shrinks H and W with no parameters,
a 1×1 convolution shrinks C with C_in·C_out of them.
"""
from __future__ import annotations

import numpy as np

from app.engine.geometry import Pair, PoolGeometry, pool_geometry
from app.engine.views import strided_view


def _pool_windows(x: np.ndarray, g: PoolGeometry, fill: float) -> np.ndarray:
    ph, pw = g.padding
    xp = np.pad(x, ((0, 0), (ph, ph), (pw, pw)), constant_values=fill) if ph or pw else np.ascontiguousarray(x)
    sc, sh, sw = xp.strides
    shape = (g.channels, g.out_height, g.out_width, g.kernel[0], g.kernel[1])
    strides = (sc, sh * g.stride[0], sw * g.stride[1], sh, sw)
    return strided_view(xp, shape, strides)  # (C, H_out, W_out, kH, kW)


def max_pool2d(x: np.ndarray, kernel_size: int | Pair, stride: int | Pair | None = None,
               padding: int | Pair = 0) -> np.ndarray:
    x = np.asarray(x, dtype=np.float32)
    g = pool_geometry(x.shape, kernel_size, stride, padding)
    return _pool_windows(x, g, -np.inf).max(axis=(3, 4))


def avg_pool2d(x: np.ndarray, kernel_size: int | Pair, stride: int | Pair | None = None,
               padding: int | Pair = 0) -> np.ndarray:
    """Padding zeros count in the mean, as torch's default ``count_include_pad=True``."""
    x = np.asarray(x, dtype=np.float32)
    g = pool_geometry(x.shape, kernel_size, stride, padding)
    return _pool_windows(x, g, 0.0).mean(axis=(3, 4), dtype=np.float32)


def relu(x: np.ndarray) -> np.ndarray:
    return np.maximum(x, np.float32(0))
