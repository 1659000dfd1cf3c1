"""This machine's roofline, measured once per process: the float32 GEMM peak (MACs per second) and the memory
bandwidth (bytes per second) that bound any layer's speed in the NumPy engine.

A layer doing M MACs over B bytes (M/B MACs per byte, its arithmetic intensity) can at best run at
min(peak, bandwidth · M/B) MACs per second: below the ridge point peak/bandwidth it is bound by memory
traffic, above it by arithmetic. Both figures are the best of fixed-size runs (bounded: 5 to 17 runs of
each of the three, stopping after 40 ms each once 4 are timed; a few ms on an idle machine, once per process), so they are what this process can reach now,
on this machine and under its current load, never a datasheet number.
"""
from __future__ import annotations

import functools
import time
from dataclasses import dataclass
from typing import Optional

import numpy as np

from app.engine.threads import blas_threads, single_blas

GEMM_N = 256          # (N×N)·(N×N) float32: N³ = 16.8 M MACs a run
COPY_BYTES = 8 << 20  # 8 MiB copied: 16 MiB moved (read + written) a run
REPEATS = 16          # best of at most this many runs, after one warm-up…
MIN_RUNS = 4          # …and at least this many (a stalled warm-up must not leave one stalled run as "best")…
BUDGET_S = 0.04       # …stopping once this much time is spent: on a loaded machine one
                      # run can stall for 100 ms while a BLAS thread waits for a core; the best of many
                      # short runs finds what the machine can do, and the time spent stays bounded


@dataclass(frozen=True)
class Roofline:
    peak_macs_per_s: float       # float32 GEMM, best of REPEATS, on one BLAS thread or on all of them
    gemm_threads: int            # the thread count of that best run
    bandwidth_bytes_per_s: float  # a large array copy, read + written bytes, best of REPEATS
    gemm_n: int
    copy_bytes: int

    @property
    def ridge_macs_per_byte(self) -> float:
        """The arithmetic intensity where the two roofs meet."""
        return self.peak_macs_per_s / self.bandwidth_bytes_per_s

    def attainable_macs_per_s(self, macs_per_byte: float) -> float:
        return min(self.peak_macs_per_s, self.bandwidth_bytes_per_s * macs_per_byte)

    def bound(self, macs_per_byte: float) -> Optional[str]:
        """"memory" below the ridge point, "compute" at or above it; None for a layer with no MACs."""
        if macs_per_byte <= 0:
            return None
        return "memory" if macs_per_byte < self.ridge_macs_per_byte else "compute"


def _best_seconds(fn, repeats: int, budget_s: float = BUDGET_S, min_runs: int = MIN_RUNS) -> float:
    """The fastest of up to ``repeats`` timed runs after an untimed warm-up (first-touch page faults and
    thread start-up are not the machine's speed), stopping once ``budget_s`` is spent, warm-up included,
    but never before ``min_runs`` timed runs. The work is bounded by ``repeats``; a stalled run's length is
    the machine's."""
    start = time.perf_counter()
    fn()
    best = float("inf")
    for i in range(repeats):
        t0 = time.perf_counter()
        fn()
        best = min(best, time.perf_counter() - t0)
        if i + 1 >= min_runs and time.perf_counter() - start > budget_s:
            break
    return max(best, 1e-9)


def measure_roofline(gemm_n: int = GEMM_N, copy_bytes: int = COPY_BYTES, repeats: int = REPEATS) -> Roofline:
    """The GEMM is timed on one BLAS thread and on the process's own thread count, and the faster counts:
    on a loaded 2-core machine a 2-thread GEMM can stall for tens of ms at a time waiting for its second
    core, and a roof below what the layers themselves reach would say nothing."""
    rng = np.random.default_rng(0)
    a = rng.standard_normal((gemm_n, gemm_n), dtype=np.float32)
    b = rng.standard_normal((gemm_n, gemm_n), dtype=np.float32)
    c = np.empty((gemm_n, gemm_n), dtype=np.float32)
    gemm = lambda: np.matmul(a, b, out=c)  # noqa: E731
    with single_blas():  # not threadpoolctl's limits: they do nothing outside the thread that first set one
        one_s = _best_seconds(gemm, repeats)
    all_s = _best_seconds(gemm, repeats)
    threads = blas_threads()
    src = np.ones(copy_bytes // 4, dtype=np.float32)
    dst = np.empty_like(src)
    copy_s = _best_seconds(lambda: np.copyto(dst, src), repeats)
    return Roofline(peak_macs_per_s=gemm_n ** 3 / min(one_s, all_s), gemm_threads=1 if one_s <= all_s else threads,
                    bandwidth_bytes_per_s=2 * copy_bytes / copy_s, gemm_n=gemm_n, copy_bytes=copy_bytes)


@functools.lru_cache(maxsize=1)
def machine_roofline() -> Roofline:
    """Measured on first use, then the same for the life of the process."""
    return measure_roofline()
