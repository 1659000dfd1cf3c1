"""The computation behind one output value, written out term by term for the pages to animate.

The trace reads the same padded geometry as conv2d, so "the window the page draws" and "the window the
engine used" cannot disagree; tests check that the trace's total equals conv2d at that position.
Sums are accumulated in float64 from the float32 products, so the digits shown add up on paper.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from app.engine.conv import check_weight_shape
from app.engine.errors import GeometryError
from app.engine.geometry import ConvGeometry


@dataclass(frozen=True)
class Trace:
    out_channel: int
    row: int
    col: int
    group: int
    input_channels: tuple[int, ...]     # which input channels this output reads (its group)
    input_rows: tuple[int, ...]         # input row of each kernel row; outside [0, H) means padding
    input_cols: tuple[int, ...]
    is_padding: np.ndarray              # (kH, kW) bool
    windows: np.ndarray                 # (C_in/groups, kH, kW) input values, 0 on padding
    weights: np.ndarray                 # (C_in/groups, kH, kW) as applied (already flipped if flip)
    products: np.ndarray                # (C_in/groups, kH, kW)
    partial_sums: np.ndarray            # (C_in/groups,) float64
    bias: float
    pre_activation: float
    value: float                        # after the activation


def trace_position(x: np.ndarray, weight: np.ndarray, bias: np.ndarray | None, geom: ConvGeometry,
                   out_channel: int, row: int, col: int, flip: bool = False, relu: bool = False) -> Trace:
    check_weight_shape(geom, weight.shape, bias)
    if not (0 <= out_channel < geom.out_channels and 0 <= row < geom.out_height and 0 <= col < geom.out_width):
        raise GeometryError(f"position (channel={out_channel}, row={row}, col={col}) is outside the output "
                            f"{list(geom.output_shape)}")
    (kh, kw), (dh, dw), (sh, sw) = geom.kernel, geom.dilation, geom.stride
    rows = row * sh - geom.pad_h[0] + dh * np.arange(kh)
    cols = col * sw - geom.pad_w[0] + dw * np.arange(kw)
    inside_r = (rows >= 0) & (rows < geom.in_height)
    inside_c = (cols >= 0) & (cols < geom.in_width)
    group = out_channel // geom.out_per_group
    channels = np.arange(group * geom.in_per_group, (group + 1) * geom.in_per_group)
    windows = np.zeros((geom.in_per_group, kh, kw), dtype=np.float32)
    windows[np.ix_(np.arange(geom.in_per_group), np.flatnonzero(inside_r), np.flatnonzero(inside_c))] = \
        x[np.ix_(channels, rows[inside_r], cols[inside_c])]
    w = np.asarray(weight[out_channel], dtype=np.float32)
    if flip:
        w = w[:, ::-1, ::-1]
    products = windows * w
    partial = products.astype(np.float64).sum(axis=(1, 2))
    b = float(bias[out_channel]) if bias is not None else 0.0
    total = float(partial.sum()) + b
    return Trace(out_channel, row, col, group, tuple(int(c) for c in channels), tuple(int(r) for r in rows),
                 tuple(int(c) for c in cols), ~(inside_r[:, None] & inside_c[None, :]), windows,
                 np.ascontiguousarray(w), products, partial, b, total, max(total, 0.0) if relu else total)
