"""Run a design for real with the NumPy engine and time it: warm-up, then repeats, medians.

Weights are drawn once before timing, so the clock sees only the engine. A wall-time budget stops the
repeats early (at least one timed run always completes) so one request cannot hold a worker.
"""
from __future__ import annotations

import functools
import statistics
import time
from dataclasses import dataclass
from typing import Callable

import numpy as np

from app.engine import avg_pool2d, conv2d, max_pool2d, relu
from app.engine.conv import DEFAULT_CHUNK_BYTES
from app.engine.design import Add, Block, Concat, Conv, Fc, Layer, Pool, Relu
from app.weights import random_weights

Op = Callable[[np.ndarray], np.ndarray]


@dataclass(frozen=True)
class Timed:
    total_ms: list[float]
    leaf_ms: list[list[float]]   # per leaf layer, one time per timed run
    runs: int
    truncated: bool


def _compile(layers, c_in: int, seed: list[int], leaves: list, clock: dict, conv) -> tuple[Op, int]:
    """Closures with their weights bound; returns the function and its output channel count."""
    ops: list[Op] = []
    c = c_in
    for layer in layers:
        if isinstance(layer, Block):
            op, c = _compile(layer.layers, c, seed, leaves, clock, conv)
        elif isinstance(layer, (Concat, Add)):
            subs = [_compile(b, c, seed, leaves, clock, conv) for b in layer.branches]
            fns = [f for f, _ in subs]
            if isinstance(layer, Concat):
                c = sum(ch for _, ch in subs)
                op = (lambda fs: lambda x: np.concatenate([f(x) for f in fs]))(fns)
            else:
                c = subs[0][1]
                op = (lambda fs: lambda x: sum(f(x) for f in fs))(fns)
        else:
            op, c = _leaf(layer, c, seed, len(leaves), clock, conv)
            leaves.append(layer)
        ops.append(op)

    def run(x):
        for op in ops:
            x = op(x)
        return x
    return run, c


def _timed(index: int, fn: Op, clock: dict) -> Op:
    """Record each call's time under the leaf's index, in this measurement's own clock (requests run
    in parallel threads, so nothing here is global)."""
    def run(x):
        t0 = time.perf_counter()
        y = fn(x)
        clock.setdefault(index, []).append((time.perf_counter() - t0) * 1e3)
        return y
    return run


def _leaf(layer: Layer, c: int, seed: list[int], index: int, clock: dict, conv) -> tuple[Op, int]:
    seed[0] += 1
    if isinstance(layer, Conv):
        groups = c if layer.groups == 0 else layer.groups
        k = layer.k if isinstance(layer.k, tuple) else (layer.k, layer.k)
        w, b = random_weights((layer.out, c // groups, *k), seed[0], layer.bias)
        return _timed(index, lambda x: conv(x, w, b, layer.stride, layer.padding, 1, groups), clock), layer.out
    if isinstance(layer, Pool):
        pool = max_pool2d if layer.kind == "max" else avg_pool2d
        return _timed(index, lambda x: pool(x, layer.k, layer.stride, layer.padding), clock), c
    if isinstance(layer, Relu):
        return _timed(index, relu, clock), c
    assert isinstance(layer, Fc)
    holder: dict = {}

    def fc(x):
        if "w" not in holder:  # the feature count is known only from the first input
            holder["w"], holder["b"] = random_weights((layer.out, x.size, 1, 1), seed[0], layer.bias)
        y = holder["w"][:, :, 0, 0] @ x.reshape(-1)
        return (y + holder["b"] if holder["b"] is not None else y).reshape(-1, 1, 1).astype(np.float32)
    return _timed(index, fc, clock), layer.out


def measure(layers: tuple[Layer, ...], in_shape: tuple[int, int, int], seed: int, repeats: int, warmup: int,
            budget_s: float, threads: int = 1, chunk_bytes: int = DEFAULT_CHUNK_BYTES) -> Timed:
    """Engine options as /api/convolve uses them, so the lab times what the API runs."""
    leaves: list[Layer] = []
    clock: dict[int, list[float]] = {}
    conv = functools.partial(conv2d, chunk_bytes=chunk_bytes, threads=threads)
    run, _ = _compile(layers, in_shape[0], [seed], leaves, clock, conv)
    x = np.random.default_rng(seed).standard_normal(in_shape, dtype=np.float32)
    start = time.perf_counter()
    for _ in range(warmup):
        run(x)
        if time.perf_counter() - start > budget_s:
            break
    totals: list[float] = []
    clock.clear()  # forget the warm-up
    truncated = False
    for _ in range(repeats):
        t0 = time.perf_counter()
        run(x)
        totals.append((time.perf_counter() - t0) * 1e3)
        if time.perf_counter() - start > budget_s and len(totals) < repeats:
            truncated = True
            break
    leaf_ms = [list(clock.get(i, [])) for i in range(len(leaves))]
    return Timed(totals, leaf_ms, len(totals), truncated)


def median(values: list[float]) -> float:
    return statistics.median(values) if values else 0.0
