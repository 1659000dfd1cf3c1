"""Transposed convolution of one (C, H, W) tensor, and its trace in the guide's two readings.

*Scatter* (how it runs here): each input pixel multiplies its kernels and stamps the result onto the
output, s pixels further per input pixel; the stamps overlap and add up. Then p rows and columns are
cropped from each border (output_padding adds rows at the bottom/right). One matmul per band of input
rows gives every stamp, (C_out/G·kH·kW × C_in/G)·(C_in/G × rows·W); a loop over the kH·kW taps adds them.

*Gather* (what the convolution-arithmetic guide draws): the same numbers as a direct convolution with
stride 1 over the input with s − 1 zeros inserted between neighbouring pixels, padded by d·(k − 1) − p
(plus output_padding at the bottom/right), with the kernel rotated 180° and its in/out channels swapped.
The trace writes both out at one output position and the tests prove scatter = gather = engine.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from app.engine.errors import GeometryError
from app.engine.geometry import Pair, TransposedGeometry, transposed_geometry

DEFAULT_BAND_BYTES = 16 * 2**20  # cap on the stamps of one band of input rows


def conv_transpose2d(x: np.ndarray, weight: np.ndarray, bias: np.ndarray | None = None, stride: int | Pair = 1,
                     padding: int | Pair = 0, output_padding: int | Pair = 0, dilation: int | Pair = 1,
                     groups: int = 1, band_bytes: int = DEFAULT_BAND_BYTES) -> np.ndarray:
    """Exactly ``torch.nn.functional.conv_transpose2d`` on an unbatched (C_in, H, W) input, with weight
    (C_in, C_out/groups, kH, kW)."""
    x = np.asarray(x, dtype=np.float32)
    weight = np.asarray(weight, dtype=np.float32)
    if x.ndim != 3 or weight.ndim != 4:
        raise GeometryError(f"expected x of shape (C_in, H, W) and weight of shape (C_in, C_out/groups, kH, kW), "
                            f"got {list(x.shape)} and {list(weight.shape)}")
    g = transposed_geometry(x.shape, weight.shape[1] * groups, weight.shape[2:], stride, padding, output_padding,
                            dilation, groups)
    check_transposed_weight(g, weight.shape, bias)
    out = _scatter(x, weight, g, band_bytes)
    if bias is not None:
        out += np.asarray(bias, dtype=np.float32)[:, None, None]
    return out


def check_transposed_weight(g: TransposedGeometry, weight_shape: tuple[int, ...], bias) -> None:
    if tuple(weight_shape) != g.weight_shape:
        raise GeometryError(f"weight shape {list(weight_shape)} does not match [C_in, C_out/groups, kH, kW] = "
                            f"{list(g.weight_shape)}")
    if bias is not None and np.shape(bias) != (g.out_channels,):
        raise GeometryError(f"bias must have shape [{g.out_channels}], got {list(np.shape(bias))}")


def full_shape(g: TransposedGeometry) -> Pair:
    """(H, W) of the uncropped canvas the stamps land on: every stamp, plus output_padding beyond it."""
    sizes = []
    for i, k, s, p, op, d in zip((g.in_height, g.in_width), g.kernel, g.stride, g.padding, g.output_padding,
                                 g.dilation):
        sizes.append((i - 1) * s + d * (k - 1) + 1 + max(0, op - p))
    return sizes[0], sizes[1]


def _scatter(x: np.ndarray, weight: np.ndarray, g: TransposedGeometry, band_bytes: int) -> np.ndarray:
    gr, cg, og = g.groups, g.in_per_group, g.out_per_group
    (kh, kw), (sh, sw), (dh, dw) = g.kernel, g.stride, g.dilation
    h, w = g.in_height, g.in_width
    fh, fw = full_shape(g)
    canvas = np.zeros((gr, og, fh, fw), dtype=np.float32)
    # (G, Og·kH·kW, Cg): W_g transposed, so one product gives every tap's stamp of every input pixel
    wt = weight.reshape(gr, cg, og * kh * kw).transpose(0, 2, 1)
    xs = x.reshape(gr, cg, h * w)
    rows = max(1, band_bytes // max(1, gr * og * kh * kw * w * 4))
    for r0 in range(0, h, rows):
        r1 = min(h, r0 + rows)
        stamps = np.matmul(wt, xs[:, :, r0 * w:r1 * w]).reshape(gr, og, kh, kw, r1 - r0, w)
        for i in range(kh):
            top = r0 * sh + i * dh
            for j in range(kw):
                left = j * dw
                canvas[:, :, top:top + (r1 - r0 - 1) * sh + 1:sh, left:left + (w - 1) * sw + 1:sw] += stamps[:, :, i, j]
    (pt, pl) = g.padding
    out = canvas[:, :, pt:pt + g.out_height, pl:pl + g.out_width]  # crop p from the top/left; the rest is beyond
    return np.ascontiguousarray(out).reshape(g.output_shape)


def gather_canvas_shape(g: TransposedGeometry) -> Pair:
    """(H, W) of the zero-inserted input after the gather padding (negative padding crops)."""
    (zh, zw), ((t, b), (l, r)) = g.zero_inserted_shape, g.gather_padding
    return zh + t + b, zw + l + r


def gather_canvas(x: np.ndarray, g: TransposedGeometry) -> np.ndarray:
    """The guide's picture: the input with s − 1 zeros between neighbouring pixels, padded by
    d·(k − 1) − p before and that plus output_padding after (negative: cropped). (C_in, H, W) float32."""
    (zh, zw), ((t, b), (l, r)) = g.zero_inserted_shape, g.gather_padding
    canvas = np.zeros((g.in_channels, zh + max(0, t) + max(0, b), zw + max(0, l) + max(0, r)), dtype=np.float32)
    canvas[:, max(0, t):max(0, t) + zh:g.stride[0], max(0, l):max(0, l) + zw:g.stride[1]] = x
    hh, ww = gather_canvas_shape(g)
    return canvas[:, max(0, -t):max(0, -t) + hh, max(0, -l):max(0, -l) + ww]  # (C_in, H_z, W_z)


@dataclass(frozen=True)
class Stamp:
    """One input pixel's contribution to an output value in the scatter reading."""
    channel: int        # input channel
    row: int            # input row and column
    col: int
    tap_row: int        # which kernel tap lands on the output position: r + p = row·s + tap_row·d
    tap_col: int
    origin_row: int     # where the stamp's tap (0, 0) lands on the output: row·s − p (may be cropped)
    origin_col: int
    value: float        # x[channel, row, col]
    weight: float       # w[channel, out_channel % (C_out/G), tap_row, tap_col]
    product: float


@dataclass(frozen=True)
class TransposedTrace:
    out_channel: int
    row: int
    col: int
    group: int
    weight_out_index: int               # the kernel w[c, weight_out_index] each input channel c stamps here
    input_channels: tuple[int, ...]
    stamps: tuple[Stamp, ...]           # scatter: every input pixel whose stamp covers (row, col)
    scatter_sum: float                  # Σ products, float64
    z_rows: tuple[int, ...]             # gather: the window's rows in zero-inserted, padded coordinates
    z_cols: tuple[int, ...]
    source_rows: tuple[int, ...]        # the input row each window row shows, −1 for an inserted zero or padding
    source_cols: tuple[int, ...]
    windows: np.ndarray                 # (C_in/G, kH, kW) the zero-inserted, padded input under the window
    rotated_weights: np.ndarray         # (C_in/G, kH, kW) w[c, out_channel % (C_out/G)] rotated 180°
    products: np.ndarray                # (C_in/G, kH, kW)
    partial_sums: np.ndarray            # (C_in/G,) float64
    gather_sum: float
    bias: float
    value: float                        # gather_sum + bias


def _gather_axis(out_pos: int, k: int, s: int, d: int, p: int, size_in: int) -> tuple[np.ndarray, np.ndarray]:
    """Window coordinates in the zero-inserted, padded input, and the input index each shows (−1 if none)."""
    lead = d * (k - 1) - p                       # padding before the zero-inserted input (negative: cropped)
    z = out_pos + d * np.arange(k)               # window rows, stride 1, dilation d, in padded coordinates
    inner = z - lead                             # the same rows in zero-inserted coordinates
    hit = (inner >= 0) & (inner % s == 0) & (inner // s < size_in)
    return z, np.where(hit, inner // s, -1)


def trace_transposed(x: np.ndarray, weight: np.ndarray, bias: np.ndarray | None, g: TransposedGeometry,
                     out_channel: int, row: int, col: int) -> TransposedTrace:
    """Both readings of one output value; scatter_sum and gather_sum add the same products in other orders."""
    check_transposed_weight(g, weight.shape, bias)
    if not (0 <= out_channel < g.out_channels and 0 <= row < g.out_height and 0 <= col < g.out_width):
        raise GeometryError(f"position (channel={out_channel}, row={row}, col={col}) is outside the output "
                            f"{list(g.output_shape)}")
    x = np.asarray(x, dtype=np.float32)
    (kh, kw), (sh, sw), (dh, dw), (ph, pw) = g.kernel, g.stride, g.dilation, g.padding
    group, o = divmod(out_channel, g.out_per_group)
    channels = np.arange(group * g.in_per_group, (group + 1) * g.in_per_group)
    w = np.asarray(weight, dtype=np.float32)[channels, o]  # (Cg, kH, kW)
    # gather: a stride-1 window over the zero-inserted, padded input, kernel rotated 180°
    z_rows, src_r = _gather_axis(row, kh, sh, dh, ph, g.in_height)
    z_cols, src_c = _gather_axis(col, kw, sw, dw, pw, g.in_width)
    windows = np.zeros((len(channels), kh, kw), dtype=np.float32)
    ri, ci = np.flatnonzero(src_r >= 0), np.flatnonzero(src_c >= 0)
    windows[np.ix_(np.arange(len(channels)), ri, ci)] = x[np.ix_(channels, src_r[ri], src_c[ci])]
    rotated = np.ascontiguousarray(w[:, ::-1, ::-1])
    products = windows * rotated
    partial = products.astype(np.float64).sum(axis=(1, 2))
    # scatter: input pixel (y, x) stamps tap (i, j) onto (y·s + i·d − p, x·s + j·d − p)
    stamps = []
    for i in range(kh):
        y, rem = divmod(row + ph - i * dh, sh)
        if rem or not 0 <= y < g.in_height:
            continue
        for j in range(kw):
            xx, rem = divmod(col + pw - j * dw, sw)
            if rem or not 0 <= xx < g.in_width:
                continue
            for c in channels:
                v, wv = x[c, y, xx], w[c - channels[0], i, j]
                stamps.append(Stamp(int(c), int(y), int(xx), i, j, int(y * sh - ph), int(xx * sw - pw), float(v),
                                    float(wv), float(v * wv)))
    b = 0.0 if bias is None else float(bias[out_channel])
    gather = float(partial.sum())
    return TransposedTrace(out_channel, row, col, group, o, tuple(int(c) for c in channels), tuple(stamps),
                           float(sum(s.product for s in stamps)), tuple(int(v) for v in z_rows),
                           tuple(int(v) for v in z_cols), tuple(int(v) for v in src_r), tuple(int(v) for v in src_c),
                           windows, rotated, products, partial, gather, b, gather + b)


UPSAMPLERS = ("nearest", "bilinear")


def upsampling_kernel_shape(name: str, factor: Pair) -> Pair:
    """(kH, kW) of ``upsampling_kernel``, known before anything is allocated: s, or 2s − s mod 2."""
    if name not in UPSAMPLERS:
        raise GeometryError(f'unknown upsampling kernel "{name}"; known: {", ".join(UPSAMPLERS)}')
    sizes = [s if name == "nearest" else 2 * s - s % 2 for s in factor]
    return sizes[0], sizes[1]


def upsampling_kernel(name: str, factor: Pair) -> np.ndarray:
    """(kH, kW) kernel that makes a stride-``factor`` transposed convolution an upsampler.

    "nearest": k = s, all ones, padding 0: each input pixel becomes an s×s block.
    "bilinear": k = 2s − s mod 2 with the tent 1 − |t − c|/s (FCN's initialisation); with padding
    ⌊s/2⌋ the output is exactly s times the input and interior pixels are linearly interpolated."""
    axes = []
    for s, k in zip(factor, upsampling_kernel_shape(name, factor)):
        if name == "nearest":
            axes.append(np.ones(k))
        else:
            centre = s - 1 if k % 2 else s - 0.5
            axes.append(1 - np.abs(np.arange(k) - centre) / s)
    return np.outer(axes[0], axes[1]).astype(np.float32)  # (kH, kW)


def upsampling_padding(name: str, factor: Pair) -> Pair:
    """The padding that makes ``upsampling_kernel``'s output exactly s·i long."""
    if name == "nearest":
        return 0, 0
    return factor[0] // 2, factor[1] // 2  # (k − s)/2 rounded up, k = 2s − s mod 2


def busiest_output_region(out: np.ndarray, size: int) -> Pair:
    """Top-left (row, col) of the size×size output window with the largest summed per-channel variance:
    where a page should start animating (an edge being upsampled, not a flat area). out: (C, H, W)."""
    from app.engine.region import _window_sums  # the summed-area tables the conv page's region uses
    c, h, w = out.shape
    rows, cols = min(size, h), min(size, w)
    total = np.zeros((h - rows + 1, w - cols + 1))
    for ch in out.astype(np.float64):
        mean = _window_sums(ch, rows, cols) / (rows * cols)
        total += _window_sums(ch * ch, rows, cols) / (rows * cols) - mean * mean
    r, q = np.unravel_index(int(np.argmax(total)), total.shape)
    return int(r), int(q)
