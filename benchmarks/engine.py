"""The NumPy engine against PyTorch's CPU convolution, measured side by side in one run.

    .venv/bin/python benchmarks/engine.py [--threads 2] [--quick] [--blas-env unset] [--header-only]
                                          [--json benchmarks/results/engine.json]

The header names the CPU, its SIMD level and the OpenBLAS kernel in use; `--blas-env unset` runs with
OPENBLAS_CORETYPE and OPENBLAS_L2_SIZE removed (in this process only), so both settings can be compared.

Prints one table: case, implementation, median time, GFLOP/s (FLOPs = 2·MACs), % of the NumPy matmul
peak on this machine, ratio to torch, max |error| vs torch, and the engine's peak extra memory
(tracemalloc). Absolute times are noisy on a shared machine; the ratios are the result: the engine and
torch are timed in alternation, 7 rounds, and "÷ torch" is the median of the per-round ratios.
"""
from __future__ import annotations

import argparse
import warnings
import json
import sys
import tracemalloc
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from app.engine import conv2d, conv_cost, conv_geometry  # noqa: E402
from app.engine.lowering import lowering  # noqa: E402
from benchmarks.common import (add_blas_env_argument, apply_blas_env, environment, header_lines,  # noqa: E402
                               median_ms, paired_ms)


@dataclass(frozen=True)
class Case:
    name: str
    c_in: int
    c_out: int
    size: int
    kernel: int
    stride: int = 1
    padding: int | str = 0
    dilation: int = 1
    groups: int = 1


CASES = [
    Case("1x1 256->64 @56", 256, 64, 56, 1),
    Case("1x1 64->256 @56", 64, 256, 56, 1),
    Case("1x1 3->1 @512", 3, 1, 512, 1),
    Case("1x1 832->128 @7", 832, 128, 7, 1),
    Case("3x3 64->64 @56", 64, 64, 56, 3, padding=1),
    Case("4x4 256->256 @28 (seed)", 256, 256, 28, 4, padding="same"),
    Case("5x5 s2 d2 64->64 @56", 64, 64, 56, 5, stride=2, padding=4, dilation=2),
    Case("3x3 3->16 @512", 3, 16, 512, 3, padding=1),
    Case("3x3 3->3 @1024", 3, 3, 1024, 3, padding=1),
    Case("dw 3x3 64 @112", 64, 64, 112, 3, padding=1, groups=64),
    Case("3x3 8->8 @32", 8, 8, 32, 3, padding=1),
]


@dataclass(frozen=True)
class Row:
    case: str
    impl: str
    median_ms: float
    gflops: float
    pct_of_matmul_peak: float
    ratio_to_torch: float
    max_abs_err: float
    peak_extra_mb: float
    engine_pct_of_matmul: float | None = None  # 1×1 cases: the engine's GFLOP/s ÷ np.matmul's, paired
    lowering: str = ""  # the engine's lowering for this layer, as app.engine.lowering chose it in this run
    lowering_reason: str = ""  # and why: a rule, or the trial times of every candidate


def matmul_peak_gflops(n: int = 1024) -> float:
    a = np.random.default_rng(0).standard_normal((n, n), dtype=np.float32)
    b = a.copy()
    return 2 * n**3 / median_ms(lambda: a @ b, repeats=10) / 1e6


def peak_extra_mb(fn) -> float:
    tracemalloc.start()
    base = tracemalloc.get_traced_memory()[0]
    out = fn()
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    return (peak - base - out.nbytes) / 2**20  # what the engine needed beyond its result


def naive_loop(x, w, padding):
    """The per-pixel Python loop a learner would write first, for the ≥ 500× comparison."""
    xp = np.pad(x, ((0, 0), (padding, padding), (padding, padding)))
    c_out, _, k, _ = w.shape
    h, wd = xp.shape[1] - k + 1, xp.shape[2] - k + 1
    out = np.zeros((c_out, h, wd), dtype=np.float32)
    for o in range(c_out):
        for i in range(h):
            for j in range(wd):
                out[o, i, j] = float((xp[:, i:i + k, j:j + k] * w[o]).sum())
    return out


def run_case(case: Case, peak: float, torch, threads: int) -> list[Row]:
    rng = np.random.default_rng(0)
    x = rng.standard_normal((case.c_in, case.size, case.size), dtype=np.float32)
    w = rng.standard_normal((case.c_out, case.c_in // case.groups, case.kernel, case.kernel), dtype=np.float32)
    b = None  # like for like with the bare GEMM; the bias is one more pass over the output
    geom = conv_geometry(x.shape, case.c_out, case.kernel, case.stride, case.padding, case.dilation, case.groups)
    flops = conv_cost(geom, bias=False).flops

    def ours():
        return conv2d(x, w, b, case.stride, case.padding, case.dilation, case.groups, threads=threads)

    xt, wt, bt = torch.from_numpy(x)[None], torch.from_numpy(w), None

    def theirs():
        with torch.no_grad():
            return torch.nn.functional.conv2d(xt, wt, bt, case.stride, case.padding, case.dilation, case.groups)
    ref = theirs()[0].numpy()
    err = float(np.abs(ours() - ref).max())
    t_ours, t_torch, ratio = paired_ms(ours, theirs)
    choice = lowering(geom, threads)
    rows = [Row(case.name, "numpy engine", t_ours, flops / t_ours / 1e6, 100 * flops / t_ours / 1e6 / peak,
                ratio, err, peak_extra_mb(ours), lowering=choice.path if choice else "?",
                lowering_reason=choice.reason if choice else ""),
            Row(case.name, "torch", t_torch, flops / t_torch / 1e6, 100 * flops / t_torch / 1e6 / peak, 1.0, 0.0,
                float("nan"))]
    if case.kernel == 1:
        xm = x.reshape(case.c_in, -1)
        wm = w.reshape(case.c_out, case.c_in)
        # paired with the engine, so "engine GFLOP/s as % of np.matmul's" compares like with like
        t_mm, _, mm_over_ours = paired_ms(lambda: wm @ xm, ours, rounds=7)
        rows.append(Row(case.name, "np.matmul same GEMM", t_mm, flops / t_mm / 1e6, 100 * flops / t_mm / 1e6 / peak,
                        t_mm / t_torch, float(np.abs((wm @ xm).reshape(ref.shape) - ref).max()),
                        float("nan"), engine_pct_of_matmul=100 * mm_over_ours))
    if case.name.startswith("3x3 8->8"):
        t_loop = median_ms(lambda: naive_loop(x, w, 1), repeats=3, warmup=1)
        rows.append(Row(case.name, "naive Python loop", t_loop, flops / t_loop / 1e6, 100 * flops / t_loop / 1e6 / peak,
                        t_loop / t_torch, float(np.abs(naive_loop(x, w, 1) - ref).max()), float("nan")))
    return rows


GOALS = {  # issues 6 and 16: the largest ratio to torch allowed per case
    "1x1": 0.8, "3x3 64->64 @56": 1.25, "4x4 256->256 @28 (seed)": 1.25, "5x5 s2 d2 64->64 @56": 1.25,
    "3x3 3->16 @512": 1.5, "3x3 3->3 @1024": 1.5, "dw 3x3 64 @112": 2.0,
}


def goal_lines(rows: list[Row]) -> list[str]:
    """Each goal of issues 6 and 16 beside what this run measured."""
    lines = []
    for r in rows:
        if r.impl == "numpy engine":
            limit = GOALS["1x1"] if r.case.startswith("1x1") else GOALS.get(r.case)
            if limit is not None:
                lines.append(f"{r.case:26} time ÷ torch ≤ {limit:<4}  measured {r.ratio_to_torch:5.2f}  "
                             f"{'met' if r.ratio_to_torch <= limit else 'NOT met'}")
        elif r.engine_pct_of_matmul is not None:
            lines.append(f"{r.case:26} ≥ 85 % of np.matmul GFLOP/s  measured {r.engine_pct_of_matmul:5.1f} %  "
                         f"{'met' if r.engine_pct_of_matmul >= 85 else 'NOT met'}")
        elif r.impl == "naive Python loop":
            speedup = r.median_ms / next(e.median_ms for e in rows if e.case == r.case and e.impl == "numpy engine")
            lines.append(f"{r.case:26} ≥ 500× a naive loop      measured {speedup:5.0f}×  "
                         f"{'met' if speedup >= 500 else 'NOT met'}")
    return lines


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--threads", type=int, default=2, help="BLAS and torch threads (default 2)")
    ap.add_argument("--quick", action="store_true", help="only the two cases of the foundation issue")
    ap.add_argument("--json", type=Path, default=Path(__file__).parent / "results" / "engine.json")
    ap.add_argument("--header-only", action="store_true", help="print the machine header and stop")
    add_blas_env_argument(ap)
    args = ap.parse_args()
    apply_blas_env(args.blas_env)
    import torch
    from threadpoolctl import threadpool_limits
    torch.set_num_threads(args.threads)
    warnings.filterwarnings("ignore", message="Using padding='same'")  # torch's note on even kernels
    cases = [c for c in CASES if not args.quick or c.name in ("1x1 256->64 @56", "3x3 64->64 @56")]
    with threadpool_limits(limits=args.threads, user_api="blas"):
        env = environment()
        print("\n".join(header_lines(env)), flush=True)
        if args.header_only:
            return
        peak = matmul_peak_gflops()
        rows = [r for c in cases for r in run_case(c, peak, torch, args.threads)]
    print(f"threads {args.threads}, square-GEMM peak {peak:.1f} GFLOP/s")
    head = f"{'case':26} {'implementation':20} {'median ms':>10} {'GFLOP/s':>8} {'% peak':>7} {'÷ torch':>8} " \
           f"{'max|err|':>9} {'extra MB':>9}  lowering"
    print(head)
    print("-" * len(head))
    for r in rows:
        print(f"{r.case:26} {r.impl:20} {r.median_ms:10.3f} {r.gflops:8.1f} {r.pct_of_matmul_peak:7.1f} "
              f"{r.ratio_to_torch:8.2f} {r.max_abs_err:9.2e} {r.peak_extra_mb:9.2f}  {r.lowering}")
    print("\nlowerings (app.engine.lowering, chosen in this run):")
    for r in rows:
        if r.impl == "numpy engine":
            print(f"{r.case:26} {r.lowering:10} {r.lowering_reason}")
    goals = goal_lines(rows)
    print("\ngoals (issues 6 and 16):")
    print("\n".join(goals))
    args.json.parent.mkdir(parents=True, exist_ok=True)
    args.json.write_text(json.dumps({"environment": env, "matmul_peak_gflops": peak,
                                     "rows": [asdict(r) for r in rows], "goals": goals}, indent=2))
    print(f"wrote {args.json}")


if __name__ == "__main__":
    main()
