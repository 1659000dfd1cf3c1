"""A benchmark's numbers say which machine made them: the header names the CPU, its SIMD level and the
OpenBLAS kernel in use, and `--blas-env unset` really runs without the OpenBLAS variables."""
from __future__ import annotations

import os
import subprocess
import sys

from threadpoolctl import threadpool_info

from benchmarks.common import BLAS_ENV_VARS, SIMD_LEVELS, cpu_model, environment, header_lines, simd_level
from conftest import ROOT


def test_header_names_cpu_simd_and_blas_kernel():
    import numpy  # noqa: F401  (loads OpenBLAS, so threadpoolctl sees it)
    lines = "\n".join(header_lines(environment()))
    assert cpu_model() and f"CPU: {cpu_model()}" in lines
    if os.path.exists("/proc/cpuinfo"):
        flags = open("/proc/cpuinfo").read()
        if " avx512f" in flags:
            assert simd_level() == "AVX512F"
        elif " avx2" in flags:
            assert simd_level() == "AVX2"
    assert simd_level() in SIMD_LEVELS and f"SIMD {simd_level()}" in lines
    kernels = [i["architecture"] for i in threadpool_info() if i["internal_api"] == "openblas"]
    assert kernels and all(f"kernel {k}" in lines for k in kernels)
    for var in BLAS_ENV_VARS:
        assert var in lines


def _header(extra_args: list[str], env: dict) -> str:
    out = subprocess.run([sys.executable, str(ROOT / "benchmarks" / "engine.py"), "--header-only", *extra_args],
                         env=env, cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    return out.stdout


def test_blas_env_unset_reruns_without_the_openblas_variables():
    forced = "Haswell" if simd_level() in ("AVX512F", "AVX2") else "Prescott"  # a kernel this CPU can run
    clean = {k: v for k, v in os.environ.items() if k not in BLAS_ENV_VARS}
    env = {**clean, "OPENBLAS_CORETYPE": forced, "OPENBLAS_L2_SIZE": "1048576", "PYTHONPATH": str(ROOT)}
    as_set = _header([], env)
    assert f"kernel {forced}," in as_set and f"OPENBLAS_CORETYPE={forced}" in as_set
    unset = _header(["--blas-env", "unset"], env)
    assert "OPENBLAS_CORETYPE unset, OPENBLAS_L2_SIZE unset" in unset
    own = _header([], {**clean, "PYTHONPATH": str(ROOT)})  # the kernel OpenBLAS picks for this CPU itself
    kernel = lambda text: text.split("kernel ")[1].split(",")[0]
    assert kernel(unset) == kernel(own)
