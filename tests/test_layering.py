"""The design's one-way data flow, checked on the source: routers parse, call one service function and
answer (they never reach the engine); app/engine is pure NumPy math; torch and onnxruntime are test and
benchmark dependencies only."""
from __future__ import annotations

import ast
import sys
from pathlib import Path

import pytest

APP = Path(__file__).resolve().parent.parent / "app"
STDLIB = set(sys.stdlib_module_names)


def imports(path: Path) -> list[str]:
    """Every module a file imports, at any depth (lazy imports inside functions count too)."""
    found = []
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            found += [a.name for a in node.names]
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            found += [node.module] + [f"{node.module}.{a.name}" for a in node.names]
    return found


def routers() -> list[Path]:
    return [p for p in sorted((APP / "api").glob("*.py")) if "APIRouter(" in p.read_text()]


@pytest.mark.parametrize("path", routers(), ids=lambda p: p.name)
def test_routers_never_reach_the_engine(path):
    """A router may name the engine's error type (to map it to 422), nothing else of it, and no NumPy."""
    bad = [m for m in imports(path) if (m.startswith("app.engine") and not m.startswith("app.engine.errors"))
           or m.split(".")[0] == "numpy"]
    assert not bad, f"{path.name} imports {bad}: move that work into a service module (app/compute*.py)"


@pytest.mark.parametrize("path", sorted((APP / "engine").rglob("*.py")), ids=lambda p: str(p.relative_to(APP)))
def test_engine_is_pure_numpy(path):
    """Only the standard library, NumPy and the engine itself (threadpoolctl, optional, drives BLAS's
    thread count)."""
    allowed = lambda m: (m.split(".")[0] in STDLIB or m.split(".")[0] in {"numpy", "threadpoolctl", "__future__"}  # noqa: E731
                         or m.startswith("app.engine"))
    bad = [m for m in imports(path) if not allowed(m)]
    assert not bad, f"{path.relative_to(APP)} imports {bad}"


def test_routers_are_found():
    assert {p.name for p in routers()} >= {"convolve.py", "pointwise.py", "transposed.py", "network.py", "cost.py"}


@pytest.mark.parametrize("path", sorted(APP.rglob("*.py")), ids=lambda p: str(p.relative_to(APP)))
def test_app_never_imports_the_test_oracles(path):
    bad = [m for m in imports(path) if m.split(".")[0] in {"torch", "onnxruntime", "onnxscript", "torchvision"}]
    assert not bad, f"{path.relative_to(APP)} imports {bad}"
