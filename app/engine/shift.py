"""Shift-and-accumulate lowerings for stride-1 layers: no im2col copy at all.

Both flatten each padded channel to one line of H_p·W_p values and compute every output row W_p wide
(as ``conv._im2col_runs`` does), so the values kernel tap (i, j) meets over a band of output rows are one
contiguous run of the line, starting at i·d_H·W_p + j·d_W. Each tap is then read in place and multiplied
into an accumulator, and the (k_W−1)·d_W extra columns per row are dropped when the band is stored.

- ``depthwise_shift``: one input channel per group (depthwise, with any channel multiplier). Channels
  go in blocks whose line, accumulator and one temporary fit in half the L2 cache; each tap is one
  multiply into the temporary and one add into the accumulator, all in cache; blocks are shared
  among the worker's threads (NumPy's ufuncs release the GIL).
- ``shift_add``: few output channels per group. Per band of output rows (cache-sized), one small
  product per tap, W[:, :, i, j] (O/G × C/G) times the tap's run (C/G × band), added into the band.
"""
from __future__ import annotations

import functools
import os

import numpy as np

from app.engine.buffers import give, scratch, take
from app.engine.geometry import ConvGeometry
from app.engine.threads import band_step, share, share_rows

DEFAULT_L2_BYTES = 2**20


@functools.lru_cache(maxsize=1)
def l2_bytes() -> int:
    """This CPU's L2 cache per core, as Linux reports it (1 MiB where it does not)."""
    try:
        for index in sorted(os.listdir("/sys/devices/system/cpu/cpu0/cache")):
            base = f"/sys/devices/system/cpu/cpu0/cache/{index}"
            if not index.startswith("index") or open(f"{base}/level").read().strip() != "2":
                continue
            size = open(f"{base}/size").read().strip()  # e.g. "2048K"
            scale = {"K": 2**10, "M": 2**20}.get(size[-1], 1)
            return int(size.rstrip("KM")) * scale
    except (OSError, ValueError):
        pass
    return DEFAULT_L2_BYTES


def bound(band: np.ndarray, clip: tuple | None) -> None:
    """A band of the output clipped in place to (lo, hi); either may be None (ReLU is (0, None))."""
    if clip is not None:
        lo, hi = clip
        if hi is None:
            np.maximum(band, np.float32(lo), out=band)
        elif lo is None:
            np.minimum(band, np.float32(hi), out=band)
        else:
            np.clip(band, np.float32(lo), np.float32(hi), out=band)


def _lines(x: np.ndarray, geom: ConvGeometry, c0: int, c1: int, lines: np.ndarray | None = None) -> np.ndarray:
    """Channels c0..c1 padded and flattened, one line each, with the zero tail the last row overreads
    (into ``lines`` when given, of the shape line_shape says)."""
    from app.engine.conv import pad_into  # conv imports this module
    hp, wp = geom.in_height + sum(geom.pad_h), geom.in_width + sum(geom.pad_w)
    lines = take(line_shape(geom, c1 - c0)) if lines is None else lines
    pad_into(lines[:, :hp * wp].reshape(c1 - c0, hp, wp), x[c0:c1], geom)
    lines[:, hp * wp:] = 0
    return lines


def line_shape(geom: ConvGeometry, n: int) -> tuple[int, int]:
    hp, wp = geom.in_height + sum(geom.pad_h), geom.in_width + sum(geom.pad_w)
    return n, hp * wp + (geom.kernel[1] - 1) * geom.dilation[1]


def _starts(geom: ConvGeometry, wp: int) -> list[int]:
    """Where each tap's run begins in a line, in the weight's (i, j) order."""
    (kh, kw), (dh, dw) = geom.kernel, geom.dilation
    return [i * dh * wp + j * dw for i in range(kh) for j in range(kw)]


def depthwise_block_channels(geom: ConvGeometry) -> int:
    """Channels per block: the block's line, accumulator and temporary fill half the L2 cache."""
    wp = geom.in_width + sum(geom.pad_w)
    hp = geom.in_height + sum(geom.pad_h)
    per_channel = 4 * (hp * wp + 2 * geom.out_height * wp)
    return max(1, (l2_bytes() // 2) // per_channel)


def depthwise_shift(x: np.ndarray, weight: np.ndarray, geom: ConvGeometry, parts: int = 1,
                    bias: np.ndarray | None = None, clip: tuple | None = None) -> np.ndarray:
    """A stride-1 layer with one input channel per group, tap by tap in L2-sized blocks of channels,
    pulled by ``parts`` threads; ``bias`` (G, O/G, 1) is added as each block is stored."""
    g, og, ho, wo = geom.groups, geom.out_per_group, geom.out_height, geom.out_width
    wp = geom.in_width + sum(geom.pad_w)
    m = ho * wp
    starts = _starts(geom, wp)
    taps = weight.reshape(g, og, len(starts))  # (G, O/G, kH·kW): one scalar per channel, filter and tap
    out = take((g, og, ho, wo))
    nb = depthwise_block_channels(geom)

    def blocks(a: int, b: int) -> None:
        with scratch((min(nb, b - a), m), (min(nb, b - a), m), line_shape(geom, min(nb, b - a))) as (acc, tmp, block):
            for c0 in range(a, b, nb):
                c1 = min(b, c0 + nb)
                one_block(c0, c1, acc[:c1 - c0], tmp[:c1 - c0], _lines(x, geom, c0, c1, block[:c1 - c0]))

    def one_block(c0: int, c1: int, a_: np.ndarray, t_: np.ndarray, lines: np.ndarray) -> None:
        """Channels c0..c1 from their (n, H_p·W_p + tail) lines, each tap multiplied and added in cache."""
        for o in range(og):
            np.multiply(lines[:, starts[0]:starts[0] + m], taps[c0:c1, o, 0:1], out=a_)
            for k in range(1, len(starts)):
                np.multiply(lines[:, starts[k]:starts[k] + m], taps[c0:c1, o, k:k + 1], out=t_)
                a_ += t_
            wide = a_.reshape(c1 - c0, ho, wp)[:, :, :wo]
            if bias is None:
                out[c0:c1, o] = wide
            else:
                np.add(wide, bias[c0:c1, o, :, None], out=out[c0:c1, o])
            bound(out[c0:c1, o], clip)
    n_blocks = -(-g // nb)
    share(blocks, g, max(1, min(parts, n_blocks)), n_blocks)
    return out.reshape(geom.output_shape)


def shift_add(x: np.ndarray, weight: np.ndarray, geom: ConvGeometry, band_bytes: int, parts: int = 1,
              bias: np.ndarray | None = None, clip: tuple | None = None) -> np.ndarray:
    """A stride-1 layer as one small product per tap over bands of output rows, added in place; the
    bands are pulled by ``parts`` threads and ``bias`` (G, O/G, 1) is added as each band is stored."""
    g, cg, og, ho, wo = geom.groups, geom.in_per_group, geom.out_per_group, geom.out_height, geom.out_width
    wp = geom.in_width + sum(geom.pad_w)
    starts = _starts(geom, wp)
    w_taps = np.ascontiguousarray(weight.reshape(g, og, cg, len(starts)).transpose(3, 0, 1, 2))  # (taps, G, O/G, C/G)
    lines = _lines(x, geom, 0, geom.in_channels)
    out = take((g, og, ho, wo))
    try:
        _shift_add_bands(lines.reshape(g, cg, -1), w_taps, starts, geom, out, band_bytes, parts, bias, clip)
    finally:
        give(lines)
    return out.reshape(geom.output_shape)


def _shift_add_bands(lines, w_taps, starts, geom, out, band_bytes, parts, bias, clip) -> None:
    g, cg, og, ho, wo = geom.groups, geom.in_per_group, geom.out_per_group, geom.out_height, geom.out_width
    wp = geom.in_width + sum(geom.pad_w)
    rows = max(1, min(ho, band_bytes // (4 * wp * g * (cg + 2 * og))))

    def band(r0: int, r1: int) -> None:
        m, base = (r1 - r0) * wp, r0 * wp
        with scratch((g, og, m), (g, og, m)) as (acc, tmp):
            np.matmul(w_taps[0], lines[:, :, base + starts[0]:base + starts[0] + m], out=acc)
            for k in range(1, len(starts)):
                np.matmul(w_taps[k], lines[:, :, base + starts[k]:base + starts[k] + m], out=tmp)
                acc += tmp
            wide = acc.reshape(g, og, r1 - r0, wp)[..., :wo]
            if bias is None:
                out[:, :, r0:r1, :] = wide
            else:
                np.add(wide, bias[..., None], out=out[:, :, r0:r1, :])
            bound(out[:, :, r0:r1, :], clip)
    share_rows(band, ho, band_step(rows, ho, parts), parts)
