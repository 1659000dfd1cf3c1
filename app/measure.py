"""Run designs for real with the NumPy engine and time them: warm-up rounds, then timed rounds.

Weights are drawn once before timing, so the clock sees only the engine. Several designs are timed in
interleaved rounds (A B, then B A, …) so that a slow spell of a shared machine hits both alike, and the
speed-up is the spread of per-round ratios rather than a ratio of two medians taken at different times.

The wall-time budget covers everything, weight drawing and warm-up included, and is checked before every
leaf layer: a design whose single run is longer than the budget is cut between layers, and the result
says ``truncated``. Only complete rounds are reported.
"""
from __future__ import annotations

import functools
import statistics
import time
from dataclasses import dataclass
from typing import Callable, Iterator

import numpy as np

from app.engine import avg_pool2d, conv2d, max_pool2d, relu
from app.engine.conv import DEFAULT_CHUNK_BYTES
from app.engine.design import Add, Block, Concat, Conv, Fc, Layer, Pool, Relu
from app.weights import random_weights

Op = Callable[[np.ndarray], np.ndarray]
Clock = Callable[[], float]


class OutOfTime(Exception):
    """The budget ran out; raised before a leaf layer starts."""


@dataclass(frozen=True)
class Deadline:
    at: float
    now: Clock

    def check(self) -> None:
        if self.now() > self.at:
            raise OutOfTime


@dataclass(frozen=True)
class Timed:
    total_ms: list[float]        # one per complete timed round
    leaf_ms: list[list[float]]   # per leaf layer (depth-first), one time per complete timed round
    runs: int
    truncated: bool


def leaves(layers) -> Iterator[Layer]:
    """Leaf layers depth-first, in the order design_cost lists its rows."""
    for layer in layers:
        if isinstance(layer, Block):
            yield from leaves(layer.layers)
        elif isinstance(layer, (Concat, Add)):
            for branch in layer.branches:
                yield from leaves(branch)
        else:
            yield layer


class _Design:
    """One design compiled to closures with their weights bound; per-leaf times in its own lists
    (requests run in parallel threads, so nothing here is global)."""

    def __init__(self, layers, c_in: int, seed: int, conv, deadline: Deadline):
        self.times: list[list[float]] = []
        self.seed, self.conv, self.deadline = seed, conv, deadline
        self.run, _ = self._compile(layers, c_in)

    def _compile(self, layers, c: int) -> tuple[Op, int]:
        ops: list[Op] = []
        for layer in layers:
            if isinstance(layer, Block):
                op, c = self._compile(layer.layers, c)
            elif isinstance(layer, (Concat, Add)):
                subs = [self._compile(b, c) for b in layer.branches]  # an empty branch is the identity
                fns = [f for f, _ in subs]
                if isinstance(layer, Concat):
                    c = sum(ch for _, ch in subs)
                    op = (lambda fs: lambda x: np.concatenate([f(x) for f in fs]))(fns)
                else:
                    c = subs[0][1]
                    op = (lambda fs: lambda x: functools.reduce(np.add, (f(x) for f in fs)))(fns)
            else:
                op, c = self._leaf(layer, c)
            ops.append(op)

        def run(x):
            for op in ops:
                x = op(x)
            return x
        return run, c

    def _leaf(self, layer: Layer, c: int) -> tuple[Op, int]:
        self.seed += 1
        times: list[float] = []
        self.times.append(times)
        if isinstance(layer, Conv):
            groups = c if layer.groups == 0 else layer.groups
            k = layer.k if isinstance(layer.k, tuple) else (layer.k, layer.k)
            w, b = random_weights((layer.out, c // groups, *k), self.seed, layer.bias)
            fn, c = (lambda x: self.conv(x, w, b, layer.stride, layer.padding, 1, groups)), layer.out
        elif isinstance(layer, Pool):
            pool = max_pool2d if layer.kind == "max" else avg_pool2d
            fn = lambda x: pool(x, layer.k, layer.stride, layer.padding)  # noqa: E731
        elif isinstance(layer, Relu):
            fn = relu
        else:
            assert isinstance(layer, Fc)
            fn, c = self._fc(layer, self.seed), layer.out
        return self._timed(fn, times), c

    def _fc(self, layer: Fc, seed: int) -> Op:
        holder: dict = {}

        def fc(x):
            if "w" not in holder:  # the feature count is known only from the first input
                holder["w"], holder["b"] = random_weights((layer.out, x.size, 1, 1), seed, layer.bias)
            y = holder["w"][:, :, 0, 0] @ x.reshape(-1)
            return (y + holder["b"] if holder["b"] is not None else y).reshape(-1, 1, 1).astype(np.float32)
        return fc

    def _timed(self, fn: Op, times: list[float]) -> Op:
        now, deadline = self.deadline.now, self.deadline

        def run(x):
            deadline.check()
            t0 = now()
            y = fn(x)
            times.append((now() - t0) * 1e3)
            return y
        return run


def measure_many(designs: list, in_shape: tuple[int, int, int], seed: int, repeats: int, warmup: int,
                 budget_s: float, threads: int = 1, chunk_bytes: int = DEFAULT_CHUNK_BYTES,
                 now: Clock = time.perf_counter) -> list[Timed]:
    """Time each design (a tuple of layers) in interleaved rounds, the order reversed every other round.
    Engine options as /api/convolve uses them, so the lab times what the API runs."""
    deadline = Deadline(now() + budget_s, now)
    conv = functools.partial(conv2d, chunk_bytes=chunk_bytes, threads=threads)
    totals: list[list[float]] = [[] for _ in designs]
    compiled: list[_Design] = []
    try:
        compiled = [_Design(layers, in_shape[0], seed, conv, deadline) for layers in designs]
        x = np.random.default_rng(seed).standard_normal(in_shape, dtype=np.float32)  # (C, H, W)
        for r in range(warmup + repeats):
            if r == warmup:
                _trim(compiled, None)  # forget the warm-up
            marks = [[len(t) for t in d.times] for d in compiled]
            try:
                round_ms = _round(compiled, x, r, now)
            except OutOfTime:
                _trim(compiled, marks)  # keep complete rounds only
                raise
            if r >= warmup:
                for i, ms in enumerate(round_ms):
                    totals[i].append(ms)
        truncated = False
    except OutOfTime:
        truncated = True
    if not totals[0]:  # cut before a timed round completed: nothing to report per layer either
        leaf_ms = [[[] for _ in leaves(layers)] for layers in designs]
    else:
        leaf_ms = [[list(t) for t in d.times] for d in compiled]
    return [Timed(t, ms, len(t), truncated) for t, ms in zip(totals, leaf_ms)]


def _trim(compiled: list[_Design], marks: list[list[int]] | None) -> None:
    for i, d in enumerate(compiled):
        for j, t in enumerate(d.times):
            del t[(marks[i][j] if marks else 0):]


def _round(compiled: list[_Design], x: np.ndarray, r: int, now: Clock) -> list[float]:
    order = range(len(compiled)) if r % 2 == 0 else range(len(compiled) - 1, -1, -1)
    ms = [0.0] * len(compiled)
    for i in order:
        t0 = now()
        compiled[i].run(x)
        ms[i] = (now() - t0) * 1e3
    return ms


def measure(layers, in_shape: tuple[int, int, int], seed: int, repeats: int, warmup: int, budget_s: float,
            threads: int = 1, chunk_bytes: int = DEFAULT_CHUNK_BYTES, now: Clock = time.perf_counter) -> Timed:
    return measure_many([layers], in_shape, seed, repeats, warmup, budget_s, threads, chunk_bytes, now)[0]


@dataclass(frozen=True)
class Spread:
    """Median and quartiles of repeated measurements (inclusive method: the quartiles are within the data)."""
    median: float
    q1: float
    q3: float
    n: int

    @property
    def iqr(self) -> float:
        return self.q3 - self.q1


def spread(values: list[float]) -> Spread | None:
    if not values:
        return None
    if len(values) == 1:
        return Spread(values[0], values[0], values[0], 1)
    q1, med, q3 = statistics.quantiles(values, n=4, method="inclusive")
    return Spread(med, q1, q3, len(values))


def median(values: list[float]) -> float:
    return statistics.median(values) if values else 0.0
