"""Timing helpers shared by the benchmarks: warm-up, repeats, median; and the machine's description."""
from __future__ import annotations

import os
import platform
import statistics
import time
from typing import Callable


def median_ms(fn: Callable[[], object], repeats: int = 15, warmup: int = 3, budget_s: float = 5.0) -> float:
    """Median wall time of fn in ms; fewer repeats when one call is slow, so a run stays bounded."""
    for _ in range(warmup):
        fn()
    times = []
    start = time.perf_counter()
    for _ in range(repeats):
        t0 = time.perf_counter()
        fn()
        times.append((time.perf_counter() - t0) * 1e3)
        if time.perf_counter() - start > budget_s and len(times) >= 3:
            break
    return statistics.median(times)


def paired_ms(fn_a: Callable[[], object], fn_b: Callable[[], object], rounds: int = 7, repeats: int = 7
              ) -> tuple[float, float, float]:
    """Medians of a and b, and the median of their per-round ratio a/b, timing them in alternation so
    that both see the same machine: on a shared VM a peer's speed drifts by ±50 % within a minute, and
    timing one implementation after the other turned that drift into the ratio."""
    a_times, b_times, ratios = [], [], []
    for _ in range(rounds):
        a = median_ms(fn_a, repeats=repeats, warmup=1, budget_s=2.0)
        b = median_ms(fn_b, repeats=repeats, warmup=1, budget_s=2.0)
        a_times.append(a)
        b_times.append(b)
        ratios.append(a / b)
    return statistics.median(a_times), statistics.median(b_times), statistics.median(ratios)


def environment() -> dict:
    import numpy as np
    from threadpoolctl import threadpool_info
    env = {
        "python": platform.python_version(), "machine": platform.machine(), "cpus": os.cpu_count(),
        "numpy": np.__version__,
        "OPENBLAS_CORETYPE": os.environ.get("OPENBLAS_CORETYPE"),
        "OPENBLAS_L2_SIZE": os.environ.get("OPENBLAS_L2_SIZE"),
        "blas": [{k: i.get(k) for k in ("internal_api", "version", "num_threads", "architecture", "filepath")}
                 for i in threadpool_info()],
    }
    try:
        import torch
        env["torch"] = torch.__version__
        env["torch_threads"] = torch.get_num_threads()
    except ImportError:
        env["torch"] = None
    return env
