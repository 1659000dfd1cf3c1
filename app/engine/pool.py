"""Max and average pooling and ReLU, with PyTorch's and ONNX's semantics: per-side padding, floor or
ceil mode, and average pooling that counts padding or not.

They exist for the comparison at the heart of convlens: pooling shrinks H and W with no parameters,
a 1×1 convolution shrinks C with C_in·C_out of them.
"""
from __future__ import annotations

import numpy as np

from app.engine.geometry import Pair, PoolGeometry, pool_geometry


def _taps(x: np.ndarray, g: PoolGeometry, fill: float):
    """Each kernel tap's strided slice of the padded input, (C, H_out, W_out) views. Ceil mode's last
    window may run past the bottom/right padding; those cells hold ``fill`` too (and are never counted
    in an average's divisor)."""
    (t, b), (l, r) = g.pad_h, g.pad_w
    (kh, kw), (sh, sw) = g.kernel, g.stride
    c, h, w = x.shape
    hp = max(h + t + b, (g.out_height - 1) * sh + kh)
    wp = max(w + l + r, (g.out_width - 1) * sw + kw)
    if (hp, wp) == (h, w):
        xp = x
    else:
        xp = np.full((c, hp, wp), fill, dtype=np.float32)
        xp[:, t:t + h, l:l + w] = x
    for i in range(kh):
        for j in range(kw):
            yield xp[:, i:i + (g.out_height - 1) * sh + 1:sh, j:j + (g.out_width - 1) * sw + 1:sw]


def _divisor(n_out: int, size: int, kernel: int, stride: int, pad_lo: int, pad_hi: int, with_pad: bool
             ) -> np.ndarray:
    """How many cells of each window along one axis count: inside the input, or inside input + padding."""
    start = np.arange(n_out) * stride - pad_lo  # window starts in input coordinates
    lo, hi = (-pad_lo, size + pad_hi) if with_pad else (0, size)
    return (np.minimum(start + kernel, hi) - np.maximum(start, lo)).astype(np.float32)


def pool2d(x: np.ndarray, g: PoolGeometry, kind: str, count_include_pad: bool = True) -> np.ndarray:
    """kind "max" or "avg" over the windows of ``g``; one pass per kernel tap over strided views."""
    x = np.asarray(x, dtype=np.float32)
    taps = _taps(x, g, -np.inf if kind == "max" else 0.0)
    out = np.array(next(taps), dtype=np.float32)  # (C, H_out, W_out)
    combine = np.maximum if kind == "max" else np.add
    for tap in taps:
        combine(out, tap, out=out)
    if kind == "max":
        return out
    dh = _divisor(g.out_height, g.in_height, g.kernel[0], g.stride[0], *g.pad_h, count_include_pad)
    dw = _divisor(g.out_width, g.in_width, g.kernel[1], g.stride[1], *g.pad_w, count_include_pad)
    out /= np.outer(dh, dw)[None]
    return out


def max_pool2d(x: np.ndarray, kernel_size: int | Pair, stride: int | Pair | None = None,
               padding: int | Pair = 0) -> np.ndarray:
    x = np.asarray(x, dtype=np.float32)
    return pool2d(x, pool_geometry(x.shape, kernel_size, stride, padding), "max")


def avg_pool2d(x: np.ndarray, kernel_size: int | Pair, stride: int | Pair | None = None,
               padding: int | Pair = 0) -> np.ndarray:
    """Padding zeros count in the mean, as torch's default ``count_include_pad=True``."""
    x = np.asarray(x, dtype=np.float32)
    return pool2d(x, pool_geometry(x.shape, kernel_size, stride, padding), "avg")


def relu(x: np.ndarray) -> np.ndarray:
    return np.maximum(x, np.float32(0))
