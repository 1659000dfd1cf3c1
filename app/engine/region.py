"""Where to start looking: the output region whose receptive field holds the most input detail.

A page that animates a window over a 12×12 output region should start where the input has content,
not at the top-left corner, which on photos and samples is padding and flat colour (STYLE.md §14).
"Detail" is the input's variance over the region's receptive field, summed over input channels,
computed for every candidate region at once with summed-area tables (O(C·H·W), float64 sums).
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from app.engine.geometry import ConvGeometry


def _window_sums(a: np.ndarray, fh: int, fw: int) -> np.ndarray:
    """Sum of every fh×fw window of a 2-D array, by top-left corner: shape (H−fh+1, W−fw+1)."""
    s = np.zeros((a.shape[0] + 1, a.shape[1] + 1))
    np.cumsum(np.cumsum(a, axis=0, dtype=np.float64), axis=1, out=s[1:, 1:])
    return s[fh:, fw:] - s[:-fh, fw:] - s[fh:, :-fw] + s[:-fh, :-fw]


@dataclass(frozen=True)
class OutputRegion:
    """Output rows [row_start, row_stop) × cols [col_start, col_stop)."""
    row_start: int
    row_stop: int
    col_start: int
    col_stop: int


def busiest_region(x: np.ndarray, g: ConvGeometry, size: int) -> OutputRegion:
    """The size×size output region (cut to the output) whose receptive field has the largest summed
    per-channel variance. Regions whose field lies wholly inside the input win over ones that read
    padding; ties go to the first in row-major order. When no region of that size lies inside (a small
    output, e.g. 8×8 for a 12×12 region, is all of it, from a corner window that is mostly padding), the
    region shrinks to the largest square that does, if any output's window lies inside. x: (C, H, W)."""
    region, inside = _busiest(x, g, min(size, g.out_height), min(size, g.out_width))
    spans = None if inside else inside_spans(g)
    if spans is not None:
        side = min(size, spans[0][1], spans[1][1])
        region, _ = _busiest(x, g, side, side)
    return region


def _busiest(x: np.ndarray, g: ConvGeometry, rows: int, cols: int) -> tuple[OutputRegion, bool]:
    """The rows×cols region with the most detail, and whether its field lies inside the input."""
    (sh, sw), (dh, dw), (kh, kw) = g.stride, g.dilation, g.kernel
    fh, fw = (rows - 1) * sh + dh * (kh - 1) + 1, (cols - 1) * sw + dw * (kw - 1) + 1  # field size
    n_r, n_c = g.out_height - rows + 1, g.out_width - cols + 1  # candidate top-left corners
    (pt, pb), (pl, pr) = g.pad_h, g.pad_w
    score = np.zeros((n_r, n_c))
    for ch in x:                                                    # (H, W), one channel at a time
        p = np.pad(ch.astype(np.float64), ((pt, pb), (pl, pr)))    # zeros, as the engine pads
        s1 = _window_sums(p, fh, fw)[: (n_r - 1) * sh + 1: sh, : (n_c - 1) * sw + 1: sw]
        s2 = _window_sums(p * p, fh, fw)[: (n_r - 1) * sh + 1: sh, : (n_c - 1) * sw + 1: sw]
        score += s2 / (fh * fw) - (s1 / (fh * fw)) ** 2            # variance of this channel's field
    r = np.arange(n_r) * sh - pt                                    # field's first input row
    c = np.arange(n_c) * sw - pl
    inside = ((r >= 0) & (r + fh <= g.in_height))[:, None] & ((c >= 0) & (c + fw <= g.in_width))[None, :]
    if inside.any():
        score = np.where(inside, score, -np.inf)
    i = int(np.argmax(score))
    r0, c0 = i // n_c, i % n_c
    return OutputRegion(r0, r0 + rows, c0, c0 + cols), bool(inside.any())


def inside_spans(g: ConvGeometry) -> tuple[tuple[int, int], tuple[int, int]] | None:
    """((first row, count), (first col, count)) of the outputs whose window reads no padding, or None
    when every window reads some. Output i reads input rows i·stride − pad_before + dilation·j,
    j = 0…k−1: inside when i·stride ≥ pad_before and i·stride − pad_before + dilation·(k−1) ≤ H − 1."""
    spans = []
    for s, d, k, pad, n, out in ((g.stride[0], g.dilation[0], g.kernel[0], g.pad_h[0], g.in_height, g.out_height),
                                 (g.stride[1], g.dilation[1], g.kernel[1], g.pad_w[0], g.in_width, g.out_width)):
        first, last = -(-pad // s), min(out - 1, (n - 1 + pad - d * (k - 1)) // s)
        if first > last:
            return None
        spans.append((first, last - first + 1))
    return spans[0], spans[1]


def region_at(row: int, col: int, size: int, out_height: int, out_width: int) -> OutputRegion:
    """The size×size region (cut to the output) whose top-left corner is (row, col), moved inside the
    output: a page keeps its region while a layer change shrinks the output under it."""
    rows, cols = min(size, out_height), min(size, out_width)
    r0, c0 = max(0, min(row, out_height - rows)), max(0, min(col, out_width - cols))
    return OutputRegion(r0, r0 + rows, c0, c0 + cols)


def first_and_last(region: OutputRegion, upto: int | None = None) -> list[tuple[int, int]]:
    """The region's positions 0…upto in row-major order, and its last one (upto None: every position).
    Output row i reads input rows i·stride − pad + dilation·j, which grow with i, so the first and last
    windows bound the region's receptive field: a page draws the field and the steps up to the one shown
    from these alone."""
    cols = region.col_stop - region.col_start
    n = (region.row_stop - region.row_start) * cols
    upto = n - 1 if upto is None else upto
    steps = list(range(min(upto, n - 1) + 1)) + ([n - 1] if upto < n - 1 else [])
    return [(region.row_start + s // cols, region.col_start + s % cols) for s in steps]
