"""conv_transpose2d against torch.nn.functional.conv_transpose2d, timed in alternation (issue 15).

    PYTHONPATH=$PWD .venv/bin/python benchmarks/transposed.py [--rounds 15] [--threads 2]

Prints, per layer, the median time of each and the median and range of the per-round ratio
(below 1: convlens is faster), and the max |error| against torch. Each round times a block of calls of
each side (the median of 5, after one warm-up), each block after benchmarks.common.SETTLE_S of rest:
OpenBLAS's idle worker spins for ~105 ms after the engine's products, and torch timed inside that
window runs slower (single calls in alternation, as this script timed them before, flattered the
engine). It is run by hand and never asserted in a test. On a shared machine the absolute times mean
little; look at the ratio and its range.
"""
from __future__ import annotations

import argparse
import statistics
import time

import numpy as np
import torch
import torch.nn.functional as F

from app.engine.transposed import conv_transpose2d
from benchmarks.common import SETTLE_S, median_ms

# name, x (C_in, H, W), w (C_in, C_out/groups, kH, kW), stride, padding, output_padding, dilation, groups
CASES = [
    ("64→32 k4 s2 p1 @28² (DCGAN-style)", (64, 28, 28), (64, 32, 4, 4), 2, 1, 0, 1, 1),
    ("256→128 k2 s2 @14² (U-Net up)", (256, 14, 14), (256, 128, 2, 2), 2, 0, 0, 1, 1),
    ("3→3 bilinear k4 s2 p1 @96×128, depthwise", (3, 96, 128), (3, 1, 4, 4), 2, 1, 0, 1, 3),
    ("32→16 k3 s2 p1 op1 @56²", (32, 56, 56), (32, 16, 3, 3), 2, 1, 1, 1, 1),
]


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--rounds", type=int, default=15)
    ap.add_argument("--threads", type=int, default=2)
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    for name, xs, ws, s, p, op, d, g in CASES:
        rng = np.random.default_rng(0)
        x, w = rng.standard_normal(xs, dtype=np.float32), rng.standard_normal(ws, dtype=np.float32)
        xt, wt = torch.from_numpy(x)[None], torch.from_numpy(w)
        ref = F.conv_transpose2d(xt, wt, None, s, p, op, g, d)[0].numpy()
        err = float(np.abs(conv_transpose2d(x, w, None, s, p, op, d, g) - ref).max())
        ours, theirs, ratios = [], [], []
        for _ in range(args.rounds):
            time.sleep(SETTLE_S)
            a = median_ms(lambda: conv_transpose2d(x, w, None, s, p, op, d, g), repeats=5, warmup=1)
            time.sleep(SETTLE_S)
            b = median_ms(lambda: F.conv_transpose2d(xt, wt, None, s, p, op, g, d), repeats=5, warmup=1)
            ours.append(a)
            theirs.append(b)
            ratios.append(a / b)
        print(f"{name}: engine {statistics.median(ours):.2f} ms, torch {statistics.median(theirs):.2f} ms, "
              f"÷ torch {statistics.median(ratios):.2f} ({min(ratios):.2f}–{max(ratios):.2f}), max |error| {err:.1e}")


if __name__ == "__main__":
    main()
