"""One graph type for every network convlens counts, runs or times, and its three walks.

A Graph holds nodes in topological order, named tensors with static shapes, and the constants
(weights, decoded once at load). ``build_graph`` orders the nodes, refuses cycles and dangling names,
and propagates shapes through the op registry, checking the element, MAC and activation-memory budgets
before anything is allocated. Then:
- ``cost_table(graph)``: every node's params, MACs and bytes (the registry's cost rules);
- ``run(graph, x)``: the forward pass, returning the tensors asked for;
- ``timed_run(graph, x)``: the same pass with each node's wall time.
"""
from __future__ import annotations

import time
from collections import deque
from dataclasses import dataclass
from typing import Callable, Iterable, Mapping, Optional

import numpy as np

from app.engine import buffers
from app.engine.cost import LayerCost
from app.engine.errors import GeometryError
from app.engine.ops import Node, Shape, numel, op_of
from app.engine.ops.conv import conv_geom


class BudgetError(GeometryError):
    """A graph over a size budget; ``setting`` names the limit so the API can say how to raise it."""
    def __init__(self, what: str, asked: int, limit: int, setting: str):
        super().__init__(f"{what} is {asked:,}, over the limit of {limit:,}")
        self.what, self.asked, self.limit, self.setting = what, asked, limit, setting


@dataclass(frozen=True)
class Budgets:
    max_tensor_elements: int = 32 * 2**20
    max_activation_bytes: int = 512 * 2**20   # every activation of one run, all kept at once
    max_macs: int = 20 * 10**9
    max_nodes: int = 10_000


@dataclass(frozen=True)
class Graph:
    nodes: tuple[Node, ...]                 # topological order
    inputs: tuple[str, ...]                 # the tensors a run is given (not constants)
    outputs: tuple[str, ...]
    shapes: Mapping[str, Shape]             # every tensor, inputs and constants included
    consts: Mapping[str, np.ndarray]        # initializers and Constant values, decoded once

    def producer(self, tensor: str) -> Optional[Node]:
        return next((n for n in self.nodes if tensor in n.outputs), None)


@dataclass(frozen=True)
class NodeCost:
    node: Node
    in_shapes: tuple[Optional[Shape], ...]
    out_shapes: tuple[Shape, ...]
    cost: LayerCost
    kernel: Optional[tuple[int, int]] = None   # convolutions only
    stride: Optional[tuple[int, int]] = None
    groups: Optional[int] = None

    @property
    def is_1x1(self) -> bool:
        return self.kernel == (1, 1)


def topological(nodes: Iterable[Node], known: Iterable[str]) -> list[Node]:
    """Kahn's order; refuses a name produced twice, an input nothing produces, and cycles."""
    nodes = list(nodes)
    producer: dict[str, int] = {}
    for i, n in enumerate(nodes):
        for o in n.outputs:
            if o in producer or o in known:
                raise GeometryError(f"tensor '{o}' is produced twice (by node '{n.name}')")
            producer[o] = i
    waiting = [0] * len(nodes)
    users: dict[int, list[int]] = {}
    known = set(known)
    for i, n in enumerate(nodes):
        for name in dict.fromkeys(x for x in n.inputs if x):
            if name in producer:
                waiting[i] += 1
                users.setdefault(producer[name], []).append(i)
            elif name not in known:
                raise GeometryError(f"node '{n.name}' reads tensor '{name}', which no node, input or "
                                    "initializer provides")
    ready = deque(i for i, w in enumerate(waiting) if w == 0)
    order = []
    while ready:
        i = ready.popleft()
        order.append(nodes[i])
        for j in users.get(i, []):
            waiting[j] -= 1
            if waiting[j] == 0:
                ready.append(j)
    if len(order) != len(nodes):
        stuck = [nodes[i].name for i, w in enumerate(waiting) if w > 0][:5]
        raise GeometryError(f"the graph has a cycle (nodes {', '.join(stuck)} wait on each other)")
    return order


def build_graph(nodes: Iterable[Node], inputs: Mapping[str, Shape], consts: Mapping[str, np.ndarray],
                outputs: Iterable[str], budgets: Budgets = Budgets()) -> Graph:
    nodes = list(nodes)
    if len(nodes) > budgets.max_nodes:
        raise BudgetError("node count", len(nodes), budgets.max_nodes, "max_model_nodes")
    consts = dict(consts)
    order = topological(nodes, [*inputs, *consts])
    shapes: dict[str, Shape] = {k: tuple(v) for k, v in inputs.items()}
    shapes.update({k: tuple(v.shape) for k, v in consts.items()})
    total_bytes, total_macs = sum(4 * numel(s) for s in inputs.values()), 0
    for node in order:
        op = op_of(node)
        in_shapes = [shapes.get(x) if x else None for x in node.inputs]
        in_consts = [consts.get(x) for x in node.inputs]
        outs = op.infer(node, in_shapes, in_consts)
        scratch = op.scratch_elements(node, in_shapes)
        if scratch > budgets.max_tensor_elements:
            raise BudgetError(f"elements of the padded input of node '{node.name}'", scratch, budgets.max_tensor_elements,
                              "max_output_elements")
        for name, shape in zip(node.outputs, outs):
            if any(d < 1 for d in shape):
                raise GeometryError(f"node '{node.name}' gives tensor '{name}' the shape {list(shape)}")
            if numel(shape) > budgets.max_tensor_elements:
                raise BudgetError(f"elements of tensor '{name}' {list(shape)}", numel(shape),
                                  budgets.max_tensor_elements, "max_output_elements")
            shapes[name] = tuple(int(d) for d in shape)
            total_bytes += 4 * numel(shape)
        if node.op == "Constant":
            consts[node.outputs[0]] = node.attrs["value"]
        total_macs += op.cost(node, in_shapes, outs, in_consts).macs
        if total_bytes > budgets.max_activation_bytes:
            raise BudgetError("bytes of all activations", total_bytes, budgets.max_activation_bytes,
                              "max_model_activation_bytes")
        if total_macs > budgets.max_macs:
            raise BudgetError("MACs of one forward pass", total_macs, budgets.max_macs, "max_model_macs")
    outputs = tuple(outputs)
    for o in outputs:
        if o not in shapes:
            raise GeometryError(f"graph output '{o}' is not produced by any node")
    return Graph(tuple(order), tuple(inputs), outputs, shapes, consts)


def cost_table(graph: Graph) -> list[NodeCost]:
    rows = []
    for node in graph.nodes:
        op = op_of(node)
        ins = tuple(graph.shapes.get(x) if x else None for x in node.inputs)
        outs = tuple(graph.shapes[o] for o in node.outputs)
        cost = op.cost(node, list(ins), list(outs), [graph.consts.get(x) for x in node.inputs])
        extra = {}
        if node.op == "Conv":
            g = conv_geom(node, ins[0], ins[1])
            extra = {"kernel": g.kernel, "stride": g.stride, "groups": g.groups}
        rows.append(NodeCost(node, ins, outs, cost, **extra))
    return rows


def _walk(graph: Graph, feeds: Mapping[str, np.ndarray], keep: Optional[set[str]], clock: Optional[list],
          before: Optional[Callable[[Node], None]] = None, now: Callable[[], float] = time.perf_counter
          ) -> dict[str, np.ndarray]:
    for name in graph.inputs:
        if name not in feeds:
            raise GeometryError(f"the graph needs input '{name}'")
        if tuple(feeds[name].shape) != graph.shapes[name]:
            raise GeometryError(f"input '{name}' must have shape {list(graph.shapes[name])}, "
                                f"got {list(feeds[name].shape)}")
    wanted = set(graph.outputs) if keep is None else set(keep) | set(graph.outputs)
    last_use, readers = {}, {}
    for i, node in enumerate(graph.nodes):
        for x in dict.fromkeys(node.inputs):
            last_use[x] = i
            readers.setdefault(x, []).append(i)
    fused: dict[int, tuple] = {}  # node index -> the clip its Conv applies for it
    acts = {k: np.asarray(v, np.float32) for k, v in feeds.items()}  # the tensors computed so far, and the feeds
    foreign = {_root(a) for a in (*acts.values(), *graph.consts.values())}  # never written: caller's and weights
    for i, node in enumerate(graph.nodes):
        if before is not None:
            before(node)  # a deadline check: it may raise to stop the run between nodes
        op = op_of(node)
        xs = [(acts[x] if x in acts else graph.consts[x]) if x else None for x in node.inputs]
        donor = _donor(graph, node, i, xs, acts, wanted, last_use, foreign) if op.in_place else None
        clip = _fusable(graph, node, readers, wanted) if op.takes_clip else None
        t0 = now()
        if i in fused:  # its Conv already clipped: this node's output is that tensor
            ys = [xs[0]]
        elif clip is not None:
            fused[clip[0]] = clip[1]
            ys = op.forward(node, xs, clip=clip[1])
        else:
            ys = op.forward(node, xs) if donor is None else op.forward(node, xs, out=donor)
        if clock is not None:
            clock.append((now() - t0) * 1e3)
        acts.update(zip(node.outputs, ys))
        for x in node.inputs:  # free what no later node reads, so memory stays near the widest cut
            if x and last_use.get(x) == i and x not in wanted and x not in graph.consts:
                _recycle(acts.pop(x, None), acts, foreign)
    return {k: v for k in wanted if (v := acts.get(k, graph.consts.get(k))) is not None}


def _fusable(graph: Graph, node: Node, readers: dict[str, list[int]], wanted: set[str]) -> Optional[tuple]:
    """(index, bounds) of the Relu or Clip that alone reads this node's output, which nothing keeps:
    the node can clip its output band by band while it is in cache, and that Relu or Clip is skipped."""
    out = node.outputs[0]
    users = readers.get(out, [])
    if out in wanted or len(users) != 1:
        return None
    j = users[0]
    nxt = graph.nodes[j]
    if nxt.inputs[0] != out or nxt.inputs[1:].count(out) or graph.shapes[nxt.outputs[0]] != graph.shapes[out]:
        return None
    bounds = op_of(nxt).clip_bounds(nxt, [graph.consts.get(x) for x in nxt.inputs])
    return None if bounds is None else (j, bounds)


def _root(a: np.ndarray) -> int:
    """The identity of the memory an array lives in (NumPy collapses a view's base to the owner)."""
    return id(a if a.base is None else a.base)


def _recycle(a: Optional[np.ndarray], acts: dict[str, np.ndarray], foreign: set[int]) -> None:
    """A dead tensor's memory to the engine's buffers (app.engine.buffers), for the next layer's output,
    unless a live tensor still shares it or it is the caller's or a constant's."""
    if isinstance(a, np.ndarray) and (root := _root(a)) not in foreign and all(_root(b) != root for b in acts.values()):
        buffers.give(a)


def _donor(graph: Graph, node: Node, i: int, xs: list, acts: dict[str, np.ndarray], wanted: set[str],
           last_use: dict[str, int], foreign: set[int]) -> Optional[np.ndarray]:
    """An input of node i that its output may overwrite: one this node reads last, float32 and of the
    output's shape, neither kept nor a constant, and whose memory no other live tensor (a Reshape or an
    Identity of it), constant or array of the caller's shares."""
    shape = graph.shapes[node.outputs[0]]
    for name, a in zip(node.inputs, xs):
        if (not name or name in wanted or name in graph.consts or last_use.get(name) != i
                or a.shape != shape or a.dtype != np.float32 or not a.flags.writeable):
            continue
        root = _root(a)
        if root in foreign or any(_root(b) == root for k, b in acts.items() if k != name):
            continue
        return a
    return None


def run(graph: Graph, feeds: Mapping[str, np.ndarray], keep: Optional[Iterable[str]] = None) -> dict[str, np.ndarray]:
    """The forward pass; returns the graph's outputs and every tensor named in ``keep``."""
    return _walk(graph, feeds, None if keep is None else set(keep), None)


def timed_run(graph: Graph, feeds: Mapping[str, np.ndarray], keep: Optional[Iterable[str]] = None,
              before: Optional[Callable[[Node], None]] = None, now: Callable[[], float] = time.perf_counter
              ) -> tuple[dict[str, np.ndarray], list[float]]:
    """The forward pass and each node's time in ms, in node order. ``before(node)`` runs before each
    node (the cost lab's deadline raises there); ``now`` is the clock (tests pass a fake one). A graph
    whose convolutions have not run in this process yet is run once untimed first: a layer's first run
    also measures its lowerings (app.engine.lowering), which is not the layer's time."""
    if not all(op_of(n).calibrated(n, [graph.shapes.get(x) for x in n.inputs]) for n in graph.nodes):
        _walk(graph, feeds, set(), None, before)
    clock: list[float] = []
    values = _walk(graph, feeds, None if keep is None else set(keep), clock, before, now)
    return values, clock
