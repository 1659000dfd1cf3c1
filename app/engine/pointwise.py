"""The equivalences behind "a 1×1 convolution is a fully connected layer at every pixel", each
computed two independent ways so the pages can show the difference (zero within float32).

- conv 1×1 ≡ one matrix product: X (H·W × C_in) · Wᵀ (C_in × C_out) = Y (H·W × C_out);
- conv 1×1 ≡ a matrix–vector product at each pixel (einsum over channels only);
- a stack of 1×1 conv + ReLU ≡ the same MLP applied to every pixel's channel vector (Network in Network);
- a fully connected layer over a k×k×C block ≡ a k×k convolution; on a larger input that convolution
  slides the FC layer and yields a map of scores (fully convolutional networks).
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from app.engine.conv import conv2d, conv1x1, pad_input, window_view
from app.engine.geometry import conv_geometry
from app.engine.pool import relu
from app.engine.threads import single_blas


def max_abs(a: np.ndarray, b: np.ndarray) -> float:
    return float(np.abs(np.asarray(a, np.float64) - np.asarray(b, np.float64)).max(initial=0.0))


@dataclass(frozen=True)
class MatmulView:
    x_matrix: np.ndarray    # (H·W, C_in): one row per pixel
    w_matrix: np.ndarray    # (C_in, C_out): Wᵀ
    y_matrix: np.ndarray    # (H·W, C_out)
    conv: np.ndarray        # (C_out, H, W) from the engine's conv2d
    max_abs_conv_vs_matmul: float
    max_abs_conv_vs_per_pixel: float


def pointwise_as_matmul(x: np.ndarray, w: np.ndarray, b: np.ndarray | None) -> MatmulView:
    w2 = np.asarray(w, np.float32).reshape(w.shape[0], w.shape[1])  # (C_out, C_in)
    c, h, wd = x.shape
    conv = conv1x1(x, w2, b)                                          # (C_out, H, W)
    xm = np.ascontiguousarray(x.reshape(c, h * wd).T)                 # (H·W, C_in)
    with single_blas():  # a tall, thin product: two OpenBLAS threads on a busy machine took 0.4–0.6 s, one 3–8 ms
        ym = xm @ w2.T + (0 if b is None else b)                      # (H·W, C_out)
    per_pixel = np.einsum("oc,chw->ohw", w2, x) + (0 if b is None else b[:, None, None])
    return MatmulView(xm, np.ascontiguousarray(w2.T), ym.astype(np.float32), conv,
                      max_abs(conv, ym.T.reshape(conv.shape)), max_abs(conv, per_pixel))


def conv_stack(x: np.ndarray, layers: list[tuple[np.ndarray, np.ndarray]]) -> list[np.ndarray]:
    """1×1 conv + ReLU, layer after layer, on the whole tensor (the NiN "mlpconv"); every activation."""
    acts = []
    for w, b in layers:
        x = relu(conv1x1(x, w, b))
        acts.append(x)
    return acts


def mlp_per_pixel(x: np.ndarray, layers: list[tuple[np.ndarray, np.ndarray]]) -> np.ndarray:
    """The same layers as an MLP over each pixel's channel vector: rows are pixels."""
    c, h, w = x.shape
    v = x.reshape(c, h * w).T                                         # (H·W, C)
    with single_blas():  # tall, thin products, as in pointwise_as_matmul
        for wt, b in layers:
            v = np.maximum(v @ wt.reshape(wt.shape[0], -1).T + b, 0)  # (H·W, C_next)
    return np.ascontiguousarray(v.T).reshape(-1, h, w).astype(np.float32)


@dataclass(frozen=True)
class FcAsConv:
    fc_scores: np.ndarray        # (O,) FC on the first k×k block, flattened
    conv_scores: np.ndarray      # (O,) the k×k conv on that block
    score_map: np.ndarray        # (O, H−k+1, W−k+1): the conv slid over the whole input
    fc_map: np.ndarray           # (O, H−k+1, W−k+1): FC applied to every k×k crop
    max_abs_block: float
    max_abs_map: float


def fc_as_conv(x: np.ndarray, w_fc: np.ndarray, b: np.ndarray, k: int) -> FcAsConv:
    """An FC layer with O outputs over a k×k×C block, written as a conv with O filters of k×k×C."""
    c = x.shape[0]
    w_conv = np.asarray(w_fc, np.float32).reshape(w_fc.shape[0], c, k, k)
    fc_scores = w_fc @ x[:, :k, :k].reshape(-1) + b                   # flatten order (C, k, k), as torch
    conv_scores = conv2d(x[:, :k, :k], w_conv, b)[:, 0, 0]
    score_map = conv2d(x, w_conv, b)                                  # (O, H−k+1, W−k+1)
    geom = conv_geometry(x.shape, w_fc.shape[0], k)
    crops = window_view(pad_input(x, geom), geom)[0]                  # (C, k, k, Ho, Wo)
    fc_map = np.einsum("of,fhw->ohw", w_fc, crops.reshape(c * k * k, geom.out_height, geom.out_width)) \
        + b[:, None, None]
    return FcAsConv(fc_scores.astype(np.float32), conv_scores, score_map, fc_map.astype(np.float32),
                    max_abs(fc_scores, conv_scores), max_abs(score_map, fc_map))
