"""Timing helpers shared by the benchmarks: warm-up, repeats, median; and the machine's description."""
from __future__ import annotations

import os
import platform
import statistics
import sys
import time
from typing import Callable

BLAS_ENV_VARS = ("OPENBLAS_CORETYPE", "OPENBLAS_L2_SIZE")
# Set on some machines of this workplace because older OpenBLAS builds crash or compute wrong results on
# their CPUs; a current numpy's OpenBLAS runs slower with them (e.g. the Haswell kernel on an AVX-512
# CPU). Tests and CI keep them as they are; a benchmark run can drop both with `--blas-env unset`.
SIMD_LEVELS = ("AVX512F", "AVX2", "AVX", "SSE42", "SVE", "ASIMD", "NEON", "VSX", "VX")  # best first


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


# After a multi-threaded product, OpenBLAS's idle worker spins on a core for ~105 ms before it sleeps
# (2-core AVX-512 machine, 2026-12-03: the process burned 104-107 ms of CPU time while sleeping 300 ms
# right after a 512² product; 2^28 cycles is OpenBLAS's default THREAD_TIMEOUT). A peer timed inside that
# window shares its cores with the spinner: torch's 1×1 256→64 @56² took 30.8 ms right after the engine
# instead of 0.77 ms, and onnxruntime's ResNet bottleneck graph 6.5 ms instead of 1.9 ms, which made the
# engine look 1.2-40× faster than it is. So each side waits this long before its block.
SETTLE_S = 0.15


def paired_ms(fn_a: Callable[[], object], fn_b: Callable[[], object], rounds: int = 7, repeats: int = 7,
              settle_s: float = SETTLE_S) -> tuple[float, float, float]:
    """Medians of a and b, and the median of their per-round ratio a/b, timing them in alternation so
    that both see the same machine: on a shared VM a peer's speed drifts by ±50 % within a minute, and
    timing one implementation after the other turned that drift into the ratio. ``settle_s``: a pause
    before each side, so that neither runs while the other's idle worker threads still spin (OpenBLAS's
    for ~105 ms, see SETTLE_S; onnxruntime's for ~10 ms)."""
    a_times, b_times, ratios = [], [], []
    for _ in range(rounds):
        time.sleep(settle_s)
        a = median_ms(fn_a, repeats=repeats, warmup=1, budget_s=2.0)
        time.sleep(settle_s)
        b = median_ms(fn_b, repeats=repeats, warmup=1, budget_s=2.0)
        a_times.append(a)
        b_times.append(b)
        ratios.append(a / b)
    return statistics.median(a_times), statistics.median(b_times), statistics.median(ratios)


def cpu_model() -> str:
    """The CPU's model name as the kernel reports it (platform's guess where there is no /proc/cpuinfo)."""
    try:
        with open("/proc/cpuinfo", encoding="utf-8", errors="replace") as f:
            for line in f:
                key, _, value = line.partition(":")
                if key.strip() in ("model name", "Model", "cpu model"):
                    return value.strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def simd_level() -> str:
    """The widest vector extension this process can use, as NumPy's dispatcher detected it (so the OS's
    support is included), e.g. "AVX512F", "AVX2", "ASIMD"."""
    from numpy._core._multiarray_umath import __cpu_features__ as features
    return next((level for level in SIMD_LEVELS if features.get(level)), "none")


def add_blas_env_argument(parser) -> None:
    parser.add_argument("--blas-env", choices=("as-is", "unset"), default="as-is",
                        help="'unset': re-run this benchmark with OPENBLAS_CORETYPE and OPENBLAS_L2_SIZE "
                             "removed from its environment (this process only), so OpenBLAS picks the "
                             "kernel for this CPU itself")


def apply_blas_env(choice: str) -> None:
    """For 'unset', replace this process by itself without the OpenBLAS variables: OpenBLAS reads them
    once, when it is loaded, so removing them from os.environ afterwards would change nothing."""
    if choice == "unset" and any(v in os.environ for v in BLAS_ENV_VARS):
        env = {k: v for k, v in os.environ.items() if k not in BLAS_ENV_VARS}
        sys.stdout.flush()
        os.execve(sys.executable, [sys.executable, *sys.argv], env)


def environment() -> dict:
    import numpy as np
    from threadpoolctl import threadpool_info
    env = {
        "python": platform.python_version(), "machine": platform.machine(), "cpus": os.cpu_count(),
        "cpu_model": cpu_model(), "simd": simd_level(),
        "numpy": np.__version__,
        **{v: os.environ.get(v) for v in BLAS_ENV_VARS},
        "blas": [{k: i.get(k) for k in ("internal_api", "version", "num_threads", "architecture", "filepath")}
                 for i in threadpool_info() if i.get("user_api") == "blas"],
    }
    try:
        import torch
        env["torch"] = torch.__version__
        env["torch_threads"] = torch.get_num_threads()
    except ImportError:
        env["torch"] = None
    return env


def header_lines(env: dict) -> list[str]:
    """What a benchmark prints first, so that its numbers say which CPU and which BLAS kernel made them."""
    blas = "; ".join(f"{b['internal_api']} {b['version']}, kernel {b['architecture'] or '?'}, "
                     f"{b['num_threads']} threads" for b in env["blas"]) or "none loaded"
    variables = ", ".join(f"{v}={env[v]}" if env.get(v) is not None else f"{v} unset" for v in BLAS_ENV_VARS)
    return [f"CPU: {env['cpu_model']} ({env['machine']}, {env['cpus']} cores), SIMD {env['simd']}",
            f"BLAS: {blas} ({variables})",
            f"python {env['python']}, numpy {env['numpy']}, torch {env.get('torch')}"]
