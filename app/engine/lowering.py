"""Which lowering runs a layer: rules for small and strided layers, a measurement for the rest.

The fastest way to lower a stride-1 layer depends on the CPU and on the BLAS kernel it runs (OpenBLAS's
Haswell kernel on an AVX-512 CPU halves the GEMM's speed, and with it the share of time the copies
take), so constants fitted on one machine pick the slower path on another. Layers above SMALL_MACS are
therefore measured once per shape, in the process that runs them: each candidate lowering runs on a
slice of the real input (the layer's channels and width, a few output rows: about TRIAL_MACS), three
times and in alternation, on one thread, and the one that takes the least CPU time wins. The choice is
cached per shape and thread
count (at most CACHE_SIZE shapes, least recently used first out), so a layer is measured at its first
use and never again in that process, and it is logged with its reason on the "convlens.engine" logger.
``lowering(geom, threads)`` returns the choice a layer got.
"""
from __future__ import annotations

import logging
import threading
import time
from collections import OrderedDict
from dataclasses import dataclass, field
from typing import Callable

import numpy as np

from app.engine.cost import conv_macs
from app.engine.geometry import ConvGeometry, conv_geometry

SMALL_MACS = 4_000_000  # below this a layer takes well under a millisecond: rules, no measurement
TRIAL_MACS = 3_000_000  # each candidate's trial: ~0.1–0.5 ms here, so a calibration stays a few ms
TRIAL_ROWS = 2  # never fewer output rows: one row is not the shape of a band (and deep layers stay bounded)
TRIAL_COLUMNS = 1024  # and, within TRIAL_MAX_MACS, products as long as a GEMM-bound band's: 2 rows of 56
TRIAL_MAX_MACS = 40_000_000  # columns ran OpenBLAS at a fraction of the speed the whole layer gets
TRIAL_ROUNDS = 3  # each candidate's minimum of 3: a shared machine stalls a thread now and then
# Trials run on the calling thread alone and are timed in that thread's CPU time, not wall time: on the
# shared machine a wall-time trial measured when threads got scheduled (the stem 3→8 @224² got "row_taps
# 0.180 ms, runs 7.851 ms" at load 5 with two BLAS threads; on one thread in CPU time at load 13:
# row_taps 0.148 ms, runs 0.209 ms, and the same within 10 % in a second process).
clock = time.thread_time
CACHE_SIZE = 256
FEW_FILTERS = 4  # shift-and-accumulate is a candidate up to this many filters per group
log = logging.getLogger("convlens.engine")


@dataclass(frozen=True)
class Choice:
    path: str
    reason: str
    trial_ms: dict[str, float] = field(default_factory=dict)  # per candidate, for the trial's rows


_choices: OrderedDict[tuple, Choice] = OrderedDict()
_lock = threading.Lock()
calibrate = True  # tests switch measurement off to check the rules alone


def rule_path(geom: ConvGeometry) -> str:
    """The lowering chosen without measuring, from paired measurements on an AVX2 machine.

    - kernel rows (``row_taps``) for stride-1 layers that are wide (> 8 filters per group and
      C_in/G·k_W ≥ 32), small (≤ SMALL_MACS) or have ≤ 4 filters per group, when k_H·G products are
      few: their products stay small enough for OpenBLAS to run each on one thread (3×3 3→4 on 96×128:
      1.30 ms by runs, 0.30 ms by kernel rows);
    - depthwise shift-and-accumulate (``depthwise``) for other stride-1 layers with one input channel
      per group: no copy, every tap in L2 (depthwise 3×3 64 @112²: 2–5× faster than the run copy);
    - long-run im2col (``runs``) for the other stride-1 layers (thin and large ones: 3→16 on 256²);
    - the window view (``windows``) for strided layers (kernel rows by phase compete when measured).
    """
    if geom.is_pointwise:
        return "pointwise"
    macs, og = conv_macs(geom), geom.out_per_group
    if geom.stride[0] == 1 and geom.groups * geom.kernel[0] <= 64:
        wide = og > 8 and geom.in_per_group * geom.kernel[1] >= 32
        if wide or macs <= SMALL_MACS or og <= 4 and geom.in_per_group > 1:
            return "row_taps"
    if geom.stride == (1, 1):
        return "depthwise" if geom.in_per_group == 1 else "runs"
    return "windows"


def candidates(geom: ConvGeometry) -> list[str]:
    """The lowerings that can run this layer and are worth measuring against each other."""
    if geom.is_pointwise:
        return ["pointwise"]
    if geom.stride != (1, 1):  # kernel rows per phase of the vertical stride, when their products are few
        return ["windows", "row_taps"] if geom.groups * geom.kernel[0] <= 64 else ["windows"]
    paths = ["row_taps", "runs"] if geom.groups * geom.kernel[0] <= 64 else ["runs"]
    if geom.in_per_group == 1:
        paths.append("depthwise")
    if geom.out_per_group <= FEW_FILTERS:
        paths.append("shift_add")
    return paths


def _key(geom: ConvGeometry, threads: int) -> tuple:
    return (geom.in_channels, geom.out_channels, geom.in_height, geom.in_width, geom.kernel, geom.stride,
            geom.dilation, geom.pad_h, geom.pad_w, geom.groups, threads)


def lowering(geom: ConvGeometry, threads: int) -> Choice | None:
    """The choice made for this layer shape in this process, if it has run (small layers: the rule)."""
    with _lock:
        return _choices.get(_key(geom, threads))


def choose(geom: ConvGeometry, threads: int, x: np.ndarray, weight: np.ndarray,
           run: Callable[[str, np.ndarray, np.ndarray, ConvGeometry], np.ndarray]) -> Choice:
    """The lowering for this layer: cached, else by rule or by a trial on a slice of x (see module doc).
    ``run(path, x, weight, geom)`` runs one lowering."""
    key = _key(geom, threads)
    with _lock:
        if key in _choices:
            _choices.move_to_end(key)
            return _choices[key]
    paths = candidates(geom)
    macs = conv_macs(geom)
    if len(paths) == 1 or macs <= SMALL_MACS or not calibrate:
        choice = Choice(rule_path(geom), "rule: " + ("one lowering fits" if len(paths) == 1 else
                                                     f"{macs:,} MACs, too small to measure" if calibrate
                                                     else "measurement off"))
    else:
        choice = _measure(geom, x, weight, run, paths)
        log.info("lowering %s for %s: %s", choice.path, describe(geom), choice.reason)
    with _lock:
        _choices[key] = choice
        while len(_choices) > CACHE_SIZE:
            _choices.popitem(last=False)
    return choice


def _trial_slice(geom: ConvGeometry, x: np.ndarray) -> tuple[np.ndarray, ConvGeometry]:
    """The top rows of x, with the layer's padding: about TRIAL_MACS of output, or TRIAL_COLUMNS output
    pixels if that is more and stays under TRIAL_MAX_MACS, and never fewer than TRIAL_ROWS rows."""
    per_row = max(1, conv_macs(geom) // geom.out_height)
    want = max(TRIAL_MACS // per_row, -(-TRIAL_COLUMNS // geom.out_width))
    rows = min(geom.out_height, max(TRIAL_ROWS, min(want, TRIAL_MAX_MACS // per_row)))
    span = geom.dilation[0] * (geom.kernel[0] - 1) + 1
    h = min(geom.in_height, max(1, rows - 1 + span - sum(geom.pad_h)))
    xs = x[:, :h]
    g = conv_geometry(xs.shape, geom.out_channels, geom.kernel, geom.stride, (geom.pad_h, geom.pad_w),
                      geom.dilation, geom.groups)
    return xs, g


def _measure(geom, x, weight, run, paths) -> Choice:
    xs, g = _trial_slice(geom, x)
    best: dict[str, float] = {}
    for _ in range(TRIAL_ROUNDS):  # the first round also pays page faults and thread wake-ups
        for p in paths:
            t0 = clock()
            run(p, xs, weight, g)
            best[p] = min(best.get(p, float("inf")), (clock() - t0) * 1e3)
    path = min(paths, key=best.get)
    timings = ", ".join(f"{p} {best[p]:.3f} ms" for p in paths)
    return Choice(path, f"measured on {g.out_height} of {geom.out_height} output rows (CPU time of one thread): "
                        f"{timings}", best)


def describe(geom: ConvGeometry) -> str:
    (kh, kw), groups = geom.kernel, f" groups {geom.groups}" if geom.groups > 1 else ""
    return (f"{kh}×{kw} {geom.in_channels}→{geom.out_channels} @{geom.in_height}×{geom.in_width} "
            f"stride {list(geom.stride)} dilation {list(geom.dilation)}{groups}")


def clear() -> None:
    with _lock:
        _choices.clear()
