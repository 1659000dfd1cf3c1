"""The computation behind one output value, written out term by term for the pages to animate.

The trace reads the same padded geometry as conv2d, so "the window the page draws" and "the window the
engine used" cannot disagree; tests check that the trace's total equals conv2d at that position.
Sums are accumulated in float64 from the float32 products, so the digits shown add up on paper.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from app.engine.conv import check_weight_shape, pad_input, window_view
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


def trace_positions(x: np.ndarray, weight: np.ndarray, bias: np.ndarray | None, geom: ConvGeometry,
                    positions: list[tuple[int, int, int]], flip: bool = False, relu: bool = False) -> list[Trace]:
    """Many positions at once: the windows are gathered with one fancy index from the same strided
    view conv2d uses, instead of a Python loop of small copies."""
    check_weight_shape(geom, weight.shape, bias)
    if not positions:
        return []
    pos = np.asarray(positions, dtype=np.int64)  # (N, 3): channel, row, col
    c, r, q = pos[:, 0], pos[:, 1], pos[:, 2]
    if c.min() < 0 or c.max() >= geom.out_channels or r.min() < 0 or r.max() >= geom.out_height \
            or q.min() < 0 or q.max() >= geom.out_width:
        bad = next(p for p in positions if not (0 <= p[0] < geom.out_channels and 0 <= p[1] < geom.out_height
                                                and 0 <= p[2] < geom.out_width))
        raise GeometryError(f"position (channel={bad[0]}, row={bad[1]}, col={bad[2]}) is outside the output "
                            f"{list(geom.output_shape)}")
    groups = c // geom.out_per_group
    windows = window_view(pad_input(np.asarray(x, dtype=np.float32), geom), geom)  # (G, Cg, kH, kW, Ho, Wo)
    wins = windows[groups, :, :, :, r, q]  # advanced indices first: (N, Cg, kH, kW)
    w = np.asarray(weight, dtype=np.float32)[c]  # (N, Cg, kH, kW)
    if flip:
        w = w[..., ::-1, ::-1]
    products = wins * w
    partial = products.astype(np.float64).sum(axis=(2, 3))  # (N, Cg)
    b = np.zeros(len(positions)) if bias is None else np.asarray(bias, dtype=np.float64)[c]
    totals = partial.sum(axis=1) + b
    (kh, kw), (dh, dw), (sh, sw) = geom.kernel, geom.dilation, geom.stride
    out = []
    for n in range(len(positions)):
        rows = r[n] * sh - geom.pad_h[0] + dh * np.arange(kh)
        cols = q[n] * sw - geom.pad_w[0] + dw * np.arange(kw)
        inside = ((rows >= 0) & (rows < geom.in_height))[:, None] & ((cols >= 0) & (cols < geom.in_width))[None, :]
        g = int(groups[n])
        total = float(totals[n])
        out.append(Trace(int(c[n]), int(r[n]), int(q[n]), g,
                         tuple(range(g * geom.in_per_group, (g + 1) * geom.in_per_group)),
                         tuple(int(v) for v in rows), tuple(int(v) for v in cols), ~inside, wins[n],
                         np.ascontiguousarray(w[n]), products[n], partial[n], float(b[n]), total,
                         max(total, 0.0) if relu else total))
    return out


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
