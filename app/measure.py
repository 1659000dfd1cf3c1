"""Run designs for real with the NumPy engine and time them: warm-up rounds, then timed rounds.

A design is lowered into the layer graph (app.engine.lower_design) and timed by the graph's own walk,
graph.timed_run, as imported models are. Weights are drawn once before timing, so the clock sees only
the engine. Several designs are timed in interleaved rounds (A B, then B A, …) so that a slow spell of a
shared machine hits both alike, and the speed-up is the spread of per-round ratios rather than a ratio
of two medians taken at different times.

The wall-time budget covers everything, weight drawing and warm-up included, and is checked before every
graph node: a design whose single run is longer than the budget is cut between layers, and the result
says ``truncated``. Only complete rounds are reported.
"""
from __future__ import annotations

import statistics
import time
from dataclasses import dataclass, replace
from typing import Callable

import numpy as np

from app.engine.conv import DEFAULT_CHUNK_BYTES
from app.engine.graph import Graph, timed_run
from app.engine.lower_design import INPUT, Lowered, lower
from app.weights import random_weights

Clock = Callable[[], float]


class OutOfTime(Exception):
    """The budget ran out; raised before a graph node starts."""


@dataclass(frozen=True)
class Deadline:
    at: float
    now: Clock

    def check(self, _node=None) -> None:
        if self.now() > self.at:
            raise OutOfTime


@dataclass(frozen=True)
class Timed:
    total_ms: list[float]        # one per complete timed round
    leaf_ms: list[list[float]]   # per leaf layer (depth-first, the cost rows' order), one per complete round
    runs: int
    truncated: bool


def with_weights(lowered: Lowered, seed: int) -> Graph:
    """The design's graph with seeded random weights in place of its placeholders: leaf n draws from
    seed + n, so A and B of a comparison and every worker draw the same numbers."""
    consts = dict(lowered.graph.consts)
    for draw in lowered.draws:
        w, b = random_weights(draw.shape, seed + draw.seed_offset, draw.bias is not None)
        consts[draw.weight] = w.reshape(lowered.graph.shapes[draw.weight])
        if draw.bias is not None:
            consts[draw.bias] = b
    return replace(lowered.graph, consts=consts)


def measure_many(designs: list, in_shape: tuple[int, int, int], seed: int, repeats: int, warmup: int,
                 budget_s: float, threads: int = 1, chunk_bytes: int = DEFAULT_CHUNK_BYTES,
                 now: Clock = time.perf_counter) -> list[Timed]:
    """Time each design (a tuple of layers) in interleaved rounds, the order reversed every other round.
    Engine options as /api/convolve uses them, so the lab times what the API runs."""
    deadline = Deadline(now() + budget_s, now)
    lowered = [lower(layers, in_shape, threads, chunk_bytes) for layers in designs]
    totals: list[list[float]] = [[] for _ in designs]
    leaf_ms: list[list[list[float]]] = [[[] for _ in d.rows] for d in lowered]
    truncated = False
    try:
        graphs = [with_weights(d, seed) for d in lowered]
        x = np.random.default_rng(seed).standard_normal((1, *in_shape), dtype=np.float32)  # (1, C, H, W)
        for r in range(warmup + repeats):
            done = _round(lowered, graphs, x, r, deadline)  # a round cut short raises: nothing of it is kept
            if r >= warmup:
                for i, (ms, rows) in enumerate(done):
                    totals[i].append(ms)
                    for times, t in zip(leaf_ms[i], rows):
                        times.append(t)
    except OutOfTime:
        truncated = True
    return [Timed(t, ms, len(t), truncated) for t, ms in zip(totals, leaf_ms)]


def _round(lowered: list[Lowered], graphs: list[Graph], x: np.ndarray, r: int, deadline: Deadline
           ) -> list[tuple[float, list[float]]]:
    """One run of each design: its total ms and each leaf's (the sum of its nodes'). The total is the sum
    of every node's time, joins included: timed_run's clock, which leaves out the untimed first run in
    which a new convolution shape tries its lowerings (app.engine.lowering)."""
    order = range(len(graphs)) if r % 2 == 0 else range(len(graphs) - 1, -1, -1)
    done: list = [None] * len(graphs)
    for i in order:
        _, clock = timed_run(graphs[i], {INPUT: x}, before=deadline.check, now=deadline.now)
        by_node = dict(zip((n.name for n in graphs[i].nodes), clock))
        done[i] = (sum(clock), [sum(by_node[n] for n in row.nodes) for row in lowered[i].rows])
    return done


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
