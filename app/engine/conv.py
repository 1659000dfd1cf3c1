"""2-D convolution of one (C, H, W) tensor, vectorised with NumPy.

Groups are the batch axis of every product, so grouped layers need no Python loop. The lowerings
(``app.engine.lowering`` chooses one per layer shape, by rule or by measuring them on this machine):
- ``pointwise``, 1×1 kernels: one matrix product, (C_out×C_in)·(C_in×H·W); no windows are built;
- ``row_taps``: k_W shifted copies of the input (per phase of the vertical stride) and one matmul per
  kernel row;
- ``runs``, stride 1: im2col copied in long contiguous runs, thin grouped layers shared among threads;
- ``depthwise`` and ``shift_add``, stride 1: no copy, each tap read in place and accumulated
  (``app.engine.shift``), for one input channel per group and for few filters per group;
- ``windows``, any layer: im2col copied from a strided view of every window (strided layers; kernel
  rows by phase are their other candidate).
The copies run over bands of output rows (sized by ``band_rows``, never above ``chunk_bytes`` per
thread but for a single row). Which lowering runs never changes a result beyond float32 rounding;
tests check each against torch and against the window path.
"""
from __future__ import annotations

import numpy as np

from app.engine.buffers import give, scratch, take
from app.engine.cost import conv_macs
from app.engine.errors import GeometryError
from app.engine.geometry import ConvGeometry, PaddingArg, Pair, conv_geometry
from app.engine.lowering import SMALL_MACS, choose
from app.engine.shift import bound, depthwise_shift, shift_add
from app.engine.threads import band_step, blas_threads, share, share_rows, single_blas
from app.engine.views import strided_view

DEFAULT_CHUNK_BYTES = 16 * 2**20  # the cap on any band's temporary (CONVLENS_IM2COL_CHUNK_BYTES)
CACHE_BYTES = 2**20  # a band that stays in cache: copy-bound layers ran 2–3× faster than with 32 MB bands
# Lowerings whose time is one or a few large products: given the cores, they run their products on BLAS's
# own threads (on an idle 2-core AVX-512 machine a 1×1 256→64 @56² layer took 0.40 ms so, 0.72–0.92 ms in
# bands shared by the engine's threads, each product on one BLAS thread; the seed 4×4 256→256 @28² in
# "runs" 4.9 ms against 5.7 ms, twice). Kernel rows and windows measured no better so; the copy-free
# lowerings have no large product and share their blocks themselves.
BLAS_PATHS = frozenset({"pointwise", "runs"})
PARALLEL_MACS = 2_000_000  # smaller layers stay on the calling thread: handing over a band costs ~50 µs
MIN_GEMM_COLUMNS = 1024  # GEMM-bound layers want long products: the seed 4×4 layer in 2-row bands of
#                          56 columns took 1.45× torch's time, in one 784-column band 1.25×


def band_rows(row_bytes: int, k: int, chunk_bytes: int) -> int:
    """Output rows per band, for a band costing row_bytes per row and products k deep: cache-sized
    bands for copy-bound layers (small k), at least MIN_GEMM_COLUMNS columns for GEMM-bound ones, and
    never more than chunk_bytes (one row at the least)."""
    target = min(chunk_bytes, max(CACHE_BYTES, k * MIN_GEMM_COLUMNS * 4))
    return max(1, target // row_bytes)


def conv2d(x: np.ndarray, weight: np.ndarray, bias: np.ndarray | None = None, stride: int | Pair = 1,
           padding: PaddingArg = 0, dilation: int | Pair = 1, groups: int = 1, flip: bool = False,
           chunk_bytes: int = DEFAULT_CHUNK_BYTES, threads: int | None = 1,
           clip: tuple[float | None, float | None] | None = None) -> np.ndarray:
    """Cross-correlation exactly as ``torch.nn.functional.conv2d`` (unbatched); ``flip=True`` rotates
    the kernel 180° first, which is the textbook convolution. ``threads``: the cores the layer may use
    (None: as many as BLAS was given). The engine shares bands of output rows (or groups, or blocks of
    channels) among them itself, each product on one BLAS thread (app.engine.threads says why); each
    band has its own temporary of up to ``chunk_bytes`` and gets the bias while it is in cache.
    ``clip=(lo, hi)`` bounds the output (ReLU is (0, None)) band by band too, which is how a graph runs a
    Conv followed by Relu or Clip. The lowering is chosen once per layer shape and thread count in a
    process (app.engine.lowering), so a repeated call gives the same numbers; another lowering or thread
    count agrees to float32 rounding."""
    x = np.asarray(x, dtype=np.float32)
    weight = np.asarray(weight, dtype=np.float32)
    if x.ndim != 3 or weight.ndim != 4:
        raise GeometryError(f"expected x of shape (C, H, W) and weight of shape (C_out, C_in/groups, kH, kW), "
                            f"got {list(x.shape)} and {list(weight.shape)}")
    geom = conv_geometry(x.shape, weight.shape[0], weight.shape[2:], stride, padding, dilation, groups)
    check_weight_shape(geom, weight.shape, bias)
    geom = _one_window_stride(geom)
    if flip:
        weight = weight[:, :, ::-1, ::-1]
    threads = blas_threads() if threads is None else max(1, threads)
    b = None if bias is None else np.asarray(bias, dtype=np.float32).reshape(geom.groups, geom.out_per_group, 1)
    with single_blas():
        choice = choose(geom, threads, x, weight, lambda p, xs, w, g: _run(p, xs, w, g, chunk_bytes, 1))
        if not (choice.path in BLAS_PATHS and threads > 1 and blas_threads() >= threads):
            return _run(choice.path, x, weight, geom, chunk_bytes, threads, b, clip)
    return _run(choice.path, x, weight, geom, chunk_bytes, 1, b, clip)  # its products on BLAS's own threads


def _one_window_stride(geom: ConvGeometry) -> ConvGeometry:
    """A stride longer than the padded input reads one window along that axis, exactly as a stride equal
    to it does; the views are built with the latter (an imported model's stride of 2⁶² made NumPy's byte
    strides overflow)."""
    hp, wp = geom.in_height + sum(geom.pad_h), geom.in_width + sum(geom.pad_w)
    if geom.stride[0] <= hp and geom.stride[1] <= wp:
        return geom
    stride = (min(geom.stride[0], hp), min(geom.stride[1], wp))
    return conv_geometry((geom.in_channels, geom.in_height, geom.in_width), geom.out_channels, geom.kernel, stride,
                         (geom.pad_h, geom.pad_w), geom.dilation, geom.groups)


def _run(path: str, x: np.ndarray, weight: np.ndarray, geom: ConvGeometry, chunk_bytes: int,
         threads: int, bias: np.ndarray | None = None, clip: tuple | None = None) -> np.ndarray:
    """One lowering (app.engine.lowering chooses which) of a layer whose shapes are checked; ``bias`` has
    the shape (G, C_out/G, 1), ``clip`` (lo, hi) bounds. Layers under PARALLEL_MACS stay on the calling
    thread."""
    parts = threads if conv_macs(geom) > PARALLEL_MACS else 1
    if path == "runs":
        return _im2col_runs(x, weight, geom, chunk_bytes, parts, bias, clip)
    if path == "depthwise":
        return depthwise_shift(x, weight, geom, parts, bias, clip)
    if path == "shift_add":
        return shift_add(x, weight, geom, min(chunk_bytes, CACHE_BYTES), parts, bias, clip)
    xp = pad_input(x, geom, take)
    try:
        lower = {"pointwise": _pointwise, "row_taps": _row_taps}.get(path, _im2col)
        return lower(xp, weight, geom, chunk_bytes, parts, bias, clip)
    finally:
        if xp is not x:
            give(xp)


def finish(band: np.ndarray, bias: np.ndarray | None, clip: tuple | None = None) -> None:
    """The bias added to a (G, C_out/G, columns) band of the output while it is in cache, then the clip."""
    if bias is not None:
        band += bias
    bound(band, clip)


def conv1x1(x: np.ndarray, weight: np.ndarray, bias: np.ndarray | None = None) -> np.ndarray:
    """A 1×1 convolution as the matrix product it is: W (C_out×C_in) · X (C_in×H·W)."""
    weight = np.asarray(weight, dtype=np.float32)
    return conv2d(x, weight.reshape(weight.shape[0], weight.shape[1], 1, 1), bias)


def check_weight_shape(geom: ConvGeometry, weight_shape: tuple[int, ...], bias: np.ndarray | None) -> None:
    if tuple(weight_shape) != geom.weight_shape:
        raise GeometryError(f"weight shape {list(weight_shape)} does not match [C_out, C_in/groups, kH, kW] = "
                            f"{list(geom.weight_shape)}")
    if bias is not None and np.shape(bias) != (geom.out_channels,):
        raise GeometryError(f"bias must have shape [{geom.out_channels}], got {list(np.shape(bias))}")


def pad_input(x: np.ndarray, geom: ConvGeometry, alloc=None) -> np.ndarray:
    """Zero padding by allocation and slice copies: np.pad costs ~0.15 ms of Python per call, which
    dominates small layers. ``alloc(shape)`` (e.g. buffers.take) gives the array; only its border is
    zeroed then."""
    if geom.pad_h == (0, 0) and geom.pad_w == (0, 0):
        return x
    (t, b), (l, r) = geom.pad_h, geom.pad_w
    c, h, w = x.shape
    if alloc is None:
        xp = np.zeros((c, h + t + b, w + l + r), dtype=x.dtype)
        xp[:, t:t + h, l:l + w] = x
        return xp
    return pad_into(alloc((c, h + t + b, w + l + r)), x, geom)


def pad_into(xp: np.ndarray, x: np.ndarray, geom: ConvGeometry) -> np.ndarray:
    """x written into the middle of xp, a (C, H_p, W_p) array, and xp's border zeroed."""
    (t, b), (l, r) = geom.pad_h, geom.pad_w
    _, h, w = x.shape
    xp[:, :t], xp[:, t + h:], xp[:, t:t + h, :l], xp[:, t:t + h, l + w:] = 0, 0, 0, 0
    xp[:, t:t + h, l:l + w] = x
    return xp


def window_view(xp: np.ndarray, geom: ConvGeometry) -> np.ndarray:
    """A read-only view (G, C_in/G, kH, kW, H_out, W_out) of every (dilated, strided) window; no copy."""
    xp = np.ascontiguousarray(xp)
    sc, sh, sw = xp.strides
    (kh, kw), (dh, dw), (s_h, s_w) = geom.kernel, geom.dilation, geom.stride
    shape = (geom.groups, geom.in_per_group, kh, kw, geom.out_height, geom.out_width)
    strides = (sc * geom.in_per_group, sc, sh * dh, sw * dw, sh * s_h, sw * s_w)
    return strided_view(xp, shape, strides)


def _pointwise(xp: np.ndarray, weight: np.ndarray, geom: ConvGeometry, chunk_bytes: int, parts: int,
               bias: np.ndarray | None, clip: tuple | None = None) -> np.ndarray:
    s_h, s_w = geom.stride
    xs = xp[:, ::s_h, ::s_w][:, :geom.out_height, :geom.out_width]  # (C_in, H_out, W_out)
    cols = xs.reshape(geom.groups, geom.in_per_group, -1)  # a view when stride is 1 and there is no padding
    w = weight.reshape(geom.groups, geom.out_per_group, geom.in_per_group)
    out = take((geom.groups, geom.out_per_group, cols.shape[2]))

    def columns(a: int, b: int) -> None:
        np.matmul(w, cols[:, :, a:b], out=out[:, :, a:b])
        finish(out[:, :, a:b], bias, clip)
    n = cols.shape[2]
    if parts == 1:  # one product (it writes into the output: no temporary to keep in cache); BLAS threads it
        columns(0, n)
        return out.reshape(geom.output_shape)
    step = band_rows(4 * geom.groups * (geom.in_per_group + geom.out_per_group), geom.in_per_group, chunk_bytes)
    share_rows(columns, n, band_step(step, n, parts), parts)
    return out.reshape(geom.output_shape)


def _im2col(xp: np.ndarray, weight: np.ndarray, geom: ConvGeometry, chunk_bytes: int, parts: int = 1,
            bias: np.ndarray | None = None, clip: tuple | None = None) -> np.ndarray:
    windows = window_view(xp, geom)  # (G, Cg, kH, kW, H_out, W_out)
    g, k, wo = geom.groups, geom.in_per_group * geom.kernel[0] * geom.kernel[1], geom.out_width
    w = weight.reshape(g, geom.out_per_group, k)
    out = take((g, geom.out_per_group, geom.out_height * wo))

    def band(r0: int, r1: int) -> None:
        with scratch(windows[..., r0:r1, :].shape) as (cols,):
            np.copyto(cols, windows[..., r0:r1, :])  # the im2col copy
            np.matmul(w, cols.reshape(g, k, (r1 - r0) * wo), out=out[:, :, r0 * wo:r1 * wo])
        finish(out[:, :, r0 * wo:r1 * wo], bias, clip)
    rows = band_rows(g * k * wo * 4, k, chunk_bytes)
    share_rows(band, geom.out_height, band_step(rows, geom.out_height, parts), parts)
    return out.reshape(geom.output_shape)


def _row_taps(xp: np.ndarray, weight: np.ndarray, geom: ConvGeometry, chunk_bytes: int, parts: int = 1,
              bias: np.ndarray | None = None, clip: tuple | None = None) -> np.ndarray:
    """k_H matmuls, one per kernel row, over k_W shifted copies of the input instead of k_H·k_W.

    With vertical stride 1, kernel row i reads the same k_W column-shifted images as row 0, i·d_H rows
    further down. So copy the k_W shifted images once (rows of exactly W_out values, so no extra
    multiply-adds), and for each kernel row multiply W[:, :, i, :] by a *view* of them starting i·d_H·W_out
    values later, accumulating. The copy is k_W× the input, not k_H·k_W×, and the matmuls keep the full
    C_in·k_W depth. Measured in paired runs: 5–21 % faster than the run copy on 3×3 64→64 @56²,
    32→64 @112², 16→16 @224² and 4×4 256→256 @28²; app.engine.lowering says where else it runs.

    With vertical stride s > 1, output row r of kernel row i reads input row s·r + i·d_H, which is row
    r + ⌊i·d_H/s⌋ of the "phase" (i·d_H mod s) of the input, the rows ≡ i·d_H (mod s). So the shifted
    copies are made per phase used (one when d_H is a multiple of s, as in 5×5 stride 2 dilation 2), and
    each kernel row multiplies a view of its phase's copy: a copy of ~k_W/s of the input per phase instead
    of im2col's k_H·k_W/s².
    """
    g, cg, og, ho, wo = geom.groups, geom.in_per_group, geom.out_per_group, geom.out_height, geom.out_width
    (kh, kw), (dh, dw), (sh, sw) = geom.kernel, geom.dilation, geom.stride
    phase = [(i * dh) % sh for i in range(kh)]  # which rows (mod sh) kernel row i reads
    offset = [(i * dh) // sh for i in range(kh)]  # and how many phase rows below the output row
    extra = {p: max(o for q, o in zip(phase, offset) if q == p) for p in set(phase)}
    w_rows = np.ascontiguousarray(weight.transpose(2, 0, 1, 3)).reshape(kh, g, og, cg * kw)  # W[:, :, i, :] per row i
    out = take((g, og, ho * wo))

    def band(r0: int, r1: int) -> None:
        m, phases = (r1 - r0) * wo, list(extra.items())
        with scratch((g, og, m), *[(g * cg, kw, r1 - r0 + e, wo) for _, e in phases]) as (tmp, *copies):
            flat = {}
            for (p, e), shifted in zip(phases, copies):  # the k_W shifted copies of this band's rows of phase p
                n_in, top = r1 - r0 + e, p + sh * r0
                for j in range(kw):
                    shifted[:, j] = xp[:, top:top + sh * (n_in - 1) + 1:sh, j * dw:j * dw + (wo - 1) * sw + 1:sw]
                flat[p] = shifted.reshape(g, cg * kw, n_in * wo)
            dst = out[:, :, r0 * wo:r1 * wo]
            for i in range(kh):
                src = flat[phase[i]][:, :, offset[i] * wo:offset[i] * wo + m]
                if i == 0:
                    np.matmul(w_rows[0], src, out=dst)
                else:
                    np.matmul(w_rows[i], src, out=tmp)
                    dst += tmp
        finish(dst, bias, clip)
    rows = min(ho, max(1, band_rows(len(extra) * g * cg * kw * wo * 4, cg * kw, chunk_bytes) - max(extra.values())))
    share_rows(band, ho, band_step(rows, ho, parts), parts)
    return out.reshape(geom.output_shape)


def _im2col_runs(x: np.ndarray, weight: np.ndarray, geom: ConvGeometry, chunk_bytes: int,
                 parts: int = 1, bias: np.ndarray | None = None, clip: tuple | None = None) -> np.ndarray:
    """im2col for stride 1, copied in long contiguous runs instead of one short run per output row.

    Flatten each padded channel to one line of H_p·W_p values and compute every output row W_p wide
    instead of W_out: then the values kernel tap (i, j) meets, over a band of output rows, are one
    contiguous run starting at i·d_h·W_p + j·d_w. The (k_W−1)·d_W extra columns per row read into the
    next row (or a zero tail) and are dropped band by band (the bias is added in that same copy).
    A 1-row band of a 32-wide image was 32 values per copy loop; now it is the whole band. Measured in
    paired runs: 10–25 % faster than the per-row copy on 3×3 layers; the cost is (W_p/W_out − 1) more
    multiply-adds (6 % at 32 wide). Thin grouped layers share their groups among the threads (each pads,
    copies and multiplies its own), the others their bands of output rows.
    """
    (t, b), (l, r) = geom.pad_h, geom.pad_w
    c, h, w = x.shape
    hp, wp = h + t + b, w + l + r
    (kh, kw), (dh, dw) = geom.kernel, geom.dilation
    lines = take((c, hp * wp + (kw - 1) * dw))  # the tail is what the last row overreads
    g, cg, og, ho, wo = geom.groups, geom.in_per_group, geom.out_per_group, geom.out_height, geom.out_width
    k = cg * kh * kw
    sc, item = lines.strides
    taps = strided_view(lines, (g, cg, kh, kw, ho * wp), (sc * cg, sc, dh * wp * item, dw * item, item))
    wm = weight.reshape(g, og, k)
    out = take((g, og, ho, wo))
    by_groups = max(1, min(_parallel_parts(geom, parts), g))
    # Bands sized per thread, for that thread's groups: each core keeps its own band in cache
    # (measured: 1 MiB bands for each of 2 threads beat 0.5 MiB ones by ~20 % on depthwise 3×3 64 @112²).
    rows = min(ho, band_rows(-(-g // by_groups) * k * wp * 4, k, chunk_bytes))

    def fill(g0: int, g1: int) -> None:
        pad_into(lines[g0 * cg:g1 * cg, :hp * wp].reshape(-1, hp, wp), x[g0 * cg:g1 * cg], geom)
        lines[g0 * cg:g1 * cg, hp * wp:] = 0

    def band(g0: int, g1: int, r0: int, r1: int) -> None:
        m = (r1 - r0) * wp
        with scratch((g1 - g0, og, m), (g1 - g0, cg, kh, kw, m)) as (res, cols):
            np.copyto(cols, taps[g0:g1, ..., r0 * wp:r0 * wp + m])  # the im2col copy, in long runs
            np.matmul(wm[g0:g1], cols.reshape(g1 - g0, k, m), out=res)
            wide = res.reshape(g1 - g0, og, r1 - r0, wp)[..., :wo]
            if bias is None:
                out[g0:g1, :, r0:r1, :] = wide
            else:
                np.add(wide, bias[g0:g1, :, :, None], out=out[g0:g1, :, r0:r1, :])
            bound(out[g0:g1, :, r0:r1, :], clip)

    def groups_run(g0: int, g1: int) -> None:
        fill(g0, g1)
        for r0 in range(0, ho, rows):
            band(g0, g1, r0, min(r0 + rows, ho))
    try:
        if by_groups > 1:
            share(groups_run, g, by_groups)
        else:
            fill(0, g)
            share_rows(lambda r0, r1: band(0, g, r0, r1), ho, band_step(rows, ho, parts), parts)
    finally:
        give(lines)
    return out.reshape(geom.output_shape)


def _parallel_parts(geom: ConvGeometry, threads: int) -> int:
    """How many threads share the groups of the run copy: only for thin grouped layers (depthwise; ≤ 8
    filters per group), where padding and copying windows cost more than multiplying; each thread pads,
    copies and multiplies its own groups, so every step runs in parallel. Other layers share bands."""
    if geom.out_per_group > 8 or conv_macs(geom) <= SMALL_MACS:  # handing work to a thread costs ~100 µs here
        return 1
    return max(1, min(threads, geom.groups))
