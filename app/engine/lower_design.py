"""A cost-lab design or a paper architecture, lowered into the one layer graph (app.engine.graph).

This is the only place that looks at a design's layer kinds. Each leaf becomes registry nodes:
Conv → Conv; Pool → MaxPool or AveragePool (padding zeros counted in the mean, torch's AvgPool2d
default); Relu → Relu; Fc → Flatten, Gemm, and a Reshape back to (1, out, 1, 1). A Concat's branches
all read the same tensor and meet in a Concat node on the channels; an Add's meet in Add nodes; an empty
branch is the identity (its output is its input). A Block only nests the rows' names. From then on the
cost table, the timed run and the forward pass are the graph's own walks (cost_table, timed_run, run).

Nothing of the design's size is allocated here: weights are zero-stride placeholders of the right shape
(np.broadcast_to of one zero), which is all that shapes and costs need. ``draws`` says which weights a
run must draw (app.measure.with_weights draws them, seeded).
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Callable, Optional, Union

import numpy as np

from app.engine import design as d
from app.engine.conv import DEFAULT_CHUNK_BYTES
from app.engine.cost import flops_from_macs, matmul_macs, pool_cost
from app.engine.errors import GeometryError
from app.engine.explain import macs_formula, params_formula, torch_line
from app.engine.geometry import Pair, conv_geometry, pool_geometry
from app.engine.graph import Graph, cost_table, topological
from app.engine.ops import Node, numel, op_of

INPUT = "input"
# Counting allocates nothing, so the graph's budgets (app.engine.graph.Budgets) do not apply: the API
# bounds designs by their size (CONVLENS_MAX_DESIGN_LAYERS) and measurements by their own limits (app.lab).


@dataclass(frozen=True)
class Draw:
    """One leaf's seeded weights (and bias), drawn as random_weights draws a (C_out, C_in/groups, kH, kW)
    weight; a fully connected layer's (out, F) is drawn as (out, F, 1, 1)."""
    weight: str
    bias: Optional[str]
    shape: tuple[int, int, int, int]
    seed_offset: int


@dataclass(frozen=True)
class RowPlan:
    """One leaf of the design: the graph nodes it became, and how the cost lab names and explains it."""
    name: str
    kind: str
    formula: str
    torch: str
    nodes: tuple[str, ...]
    input: str
    output: str
    depth: int                      # nesting inside a Concat/Add branch or Block
    branch: Optional[int]
    top: int                        # the top-level layer (paper row) it belongs to
    layer: d.Layer                  # the leaf as given (its /conv link keeps its own k, stride, padding)
    label: str = ""                 # what the leaf is, shortly: "conv 3×3/1", "max pool 3×3/2", "relu"
    kernel: Optional[Pair] = None   # conv and pool windows
    padded_elements: int = 0        # the padded copy of its input the engine makes (conv, pool)
    window_row_elements: int = 0    # one output row's windows: the engine's smallest band (conv)


@dataclass(frozen=True)
class GroupPlan:
    """A Block, Concat or Add: the tensor it reads and the one it ends in. It closes after its leaves."""
    name: str
    kind: str                       # "block", "concat" or "add"
    depth: int
    input: str
    output: str
    after: int                      # how many leaf rows come before it
    layer: Optional[d.Layer] = None  # the group as given (its own name, "" when unnamed)
    parts: tuple[tuple["Plan", ...], ...] = ()   # a Block's layers (one sequence), or each branch's in order


Plan = Union[RowPlan, GroupPlan]    # the design's tree, in the lowering's terms (Lowered.plan)


@dataclass(frozen=True)
class Lowered:
    graph: Graph                    # placeholder weights: for shapes and costs only
    rows: tuple[RowPlan, ...]       # leaves depth-first, the order of the cost table's rows
    tops: tuple[str, ...]           # the tensor after each top-level layer
    draws: tuple[Draw, ...]
    groups: tuple[GroupPlan, ...] = ()
    stopped: Optional[tuple[int, str]] = None   # partial lowering: the top-level layer that did not fit, and why
    plan: tuple[Plan, ...] = ()     # the top-level layers' plans, groups holding their parts (a tree)


@dataclass(frozen=True)
class _At:
    depth: int
    branch: Optional[int]
    top: int


class _Lowering:
    def __init__(self, in_shape: d.Shape, engine: dict):
        self.nodes: list[Node] = []
        self.shapes: dict[str, tuple[int, ...]] = {INPUT: (1, *in_shape)}
        self.consts: dict[str, np.ndarray] = {}
        self.rows: list[RowPlan] = []
        self.draws: list[Draw] = []
        self.groups: list[GroupPlan] = []
        self.engine = engine  # conv2d's options, as Conv node attributes
        self.open: list[list[Plan]] = [[]]  # the plans of each sequence being lowered, innermost last

    def chw(self, tensor: str) -> d.Shape:
        return self.shapes[tensor][1:]

    def const(self, shape, value: Optional[np.ndarray] = None) -> str:
        """A constant of ``shape``; without a value, a zero view of that shape that allocates nothing
        (counting needs shapes only). NumPy cannot even view more than 2⁶³ values: a 2³¹×2³¹ kernel is
        refused here as a geometry error, not a 500."""
        name = f"c{len(self.consts)}"
        if value is None and numel(tuple(shape)) >= 2**62:
            raise GeometryError(f"a weight of shape {list(shape)} would hold {numel(tuple(shape)):,} values; "
                                "that is more than any layer can hold (use a smaller kernel or fewer channels)")
        self.consts[name] = np.broadcast_to(np.float32(0), shape) if value is None else value
        self.shapes[name] = tuple(shape)
        return name

    def weights(self, shape: tuple[int, int, int, int], stored: tuple[int, ...], bias: bool) -> tuple[str, ...]:
        w = self.const(stored)
        b = self.const((shape[0],)) if bias else None
        self.draws.append(Draw(w, b, shape, len(self.rows) + 1))  # seed + leaf number, as before the graph
        return (w,) if b is None else (w, b)

    def node(self, op: str, inputs: tuple[str, ...], attrs: dict, label: str) -> str:
        out = f"t{len(self.nodes)}"
        node = Node(f"{label} #{len(self.nodes)}", op, inputs, (out,), attrs)
        (shape,) = op_of(node).infer(node, [self.shapes.get(x) for x in inputs], [self.consts.get(x) for x in inputs])
        if any(v < 1 for v in shape):  # as build_graph refuses it
            raise GeometryError(f"node '{node.name}' gives tensor '{out}' the shape {list(shape)}")
        self.shapes[out] = tuple(int(v) for v in shape)
        self.nodes.append(node)
        return out

    def leaf(self, x: str, at: _At, layer: d.Layer, name: str, kind: str, formula: str, torch: str,
             steps: list[tuple[str, tuple[str, ...], dict]], **extra) -> str:
        """Emit a leaf's nodes in a chain (each reads the previous output first) and its row."""
        first, y = len(self.nodes), x
        for op, more, attrs in steps:
            y = self.node(op, (y, *more), attrs, name)
        row = RowPlan(name, kind, formula, torch, tuple(n.name for n in self.nodes[first:]), x, y, at.depth,
                      at.branch, at.top, layer, **extra)
        self.rows.append(row)
        self.open[-1].append(row)
        return y

    def group(self, layer, kind: str, at: _At, x: str, y: str, parts: tuple[tuple[Plan, ...], ...]) -> str:
        plan = GroupPlan(layer.name or kind, kind, at.depth, x, y, len(self.rows), layer, parts)
        self.groups.append(plan)
        self.open[-1].append(plan)
        return y

    def mark(self) -> tuple[int, ...]:
        return len(self.nodes), len(self.rows), len(self.draws), len(self.groups), len(self.consts), len(self.open[0])

    def rollback(self, mark: tuple[int, ...]) -> None:
        """Forget what a layer that did not fit emitted (its tensors' shapes are never read again)."""
        n, r, d_, g, c, p = mark
        del self.nodes[n:], self.rows[r:], self.draws[d_:], self.groups[g:], self.open[0][p:]
        for name in list(self.consts)[c:]:
            del self.consts[name]

    def sequence(self, layers, x: str, at: _At) -> str:
        for layer in layers:
            x = _LOWER[type(layer)](self, layer, x, at)
        return x

    def nested(self, layers, x: str, at: _At) -> tuple[str, tuple[Plan, ...]]:
        """A branch or a Block's layers: their output, and their plans (for the group that holds them)."""
        self.open.append([])
        try:
            y = self.sequence(layers, x, at)
        finally:
            parts = tuple(self.open.pop())
        return y, parts


def conv_kind(k: Pair, groups: int, c_in: int) -> str:
    """The layer types of MobileNet's "resource per layer type" table, for every architecture."""
    if groups == c_in and c_in > 1:
        return "depthwise conv"
    if groups > 1:
        return "grouped conv"
    return "1×1 conv" if k == (1, 1) else "k×k conv"


def _pads(pad_h: Pair, pad_w: Pair) -> tuple[int, int, int, int]:
    return pad_h[0], pad_w[0], pad_h[1], pad_w[1]  # ONNX order: top, left, bottom, right


def _conv(lo: _Lowering, layer: d.Conv, x: str, at: _At) -> str:
    c, h, w = lo.chw(x)
    g = conv_geometry((c, h, w), layer.out, layer.k, layer.stride, layer.padding, 1,
                      c if layer.groups == 0 else layer.groups)
    name = layer.name or f"conv {g.kernel[0]}×{g.kernel[1]} {g.in_channels}→{g.out_channels}" + \
        (f" /{g.stride[0]}" if g.stride != (1, 1) else "") + (f" g={g.groups}" if g.groups > 1 else "")
    attrs = {"kernel_shape": g.kernel, "strides": g.stride, "pads": _pads(g.pad_h, g.pad_w),
             "dilations": g.dilation, "group": g.groups, **lo.engine}
    return lo.leaf(x, at, layer, name, conv_kind(g.kernel, g.groups, g.in_channels),
                   f"{params_formula(g, layer.bias)}; {macs_formula(g)}", torch_line(g, layer.bias),
                   [("Conv", lo.weights(g.weight_shape, g.weight_shape, layer.bias), attrs)],
                   label=f"conv {g.kernel[0]}×{g.kernel[1]}/{g.stride[0]}", kernel=g.kernel,
                   padded_elements=c * (h + sum(g.pad_h)) * (w + sum(g.pad_w)),
                   window_row_elements=c * g.kernel[0] * g.kernel[1] * g.out_width)


def _pool(lo: _Lowering, layer: d.Pool, x: str, at: _At) -> str:
    c, h, w = lo.chw(x)
    g = pool_geometry((c, h, w), layer.k, layer.stride, layer.padding)
    is_max = layer.kind == "max"
    attrs = {"kernel_shape": g.kernel, "strides": g.stride, "pads": _pads(g.pad_h, g.pad_w)}
    if not is_max:
        attrs["count_include_pad"] = 1  # torch's AvgPool2d default, as the design's PyTorch module has it
    return lo.leaf(x, at, layer, layer.name or f"{layer.kind} pool {g.kernel[0]}×{g.kernel[1]} /{g.stride[0]}",
                   f"{layer.kind} pool",
                   f"params = 0; {pool_cost(g).comparisons_or_adds:,} {'comparisons' if is_max else 'adds'}",
                   f"torch.nn.{'MaxPool2d' if is_max else 'AvgPool2d'}({g.kernel}, stride={g.stride}, "
                   f"padding={g.padding})",
                   [("MaxPool" if is_max else "AveragePool", (), attrs)],
                   label=f"{layer.kind} pool {g.kernel[0]}×{g.kernel[1]}/{g.stride[0]}", kernel=g.kernel,
                   padded_elements=c * (h + sum(g.pad_h)) * (w + sum(g.pad_w)))


def _relu(lo: _Lowering, layer: d.Relu, x: str, at: _At) -> str:
    return lo.leaf(x, at, layer, layer.name or "ReLU", "activation", "params = 0", "torch.nn.ReLU()",
                   [("Relu", (), {})], label="relu")


def _fc(lo: _Lowering, layer: d.Fc, x: str, at: _At) -> str:
    """Flatten to (1, F), Gemm with the (out, F) weight transposed, and back to (1, out, 1, 1) so that a
    layer after it sees channels as the design's shapes say."""
    features, out = numel(lo.chw(x)), layer.out
    macs = matmul_macs(1, 1, features, out)  # one sample's (1×F)·(F×out): one MAC per weight
    params = macs + (out if layer.bias else 0)
    formula = (f"params = features · out{' + out' if layer.bias else ''} = {features} · {out}"
               f"{f' + {out}' if layer.bias else ''} = {params:,}; MACs = {macs:,}")
    target = lo.const((4,), np.array([1, out, 1, 1], np.int64))
    return lo.leaf(x, at, layer, layer.name or f"fc {features}→{out}", "fully connected", formula,
                   f"torch.nn.Linear({features}, {out}, bias={layer.bias})  # after torch.flatten",
                   [("Flatten", (), {"axis": 1}),
                    ("Gemm", lo.weights((out, features, 1, 1), (out, features), layer.bias), {"transB": 1}),
                    ("Reshape", (target,), {})], label="fully connected")


def _branches(lo: _Lowering, layer, x: str, at: _At) -> tuple[list[str], tuple[tuple[Plan, ...], ...]]:
    ends = [lo.nested(b, x, _At(at.depth + 1, i, at.top)) for i, b in enumerate(layer.branches)]
    return [y for y, _ in ends], tuple(parts for _, parts in ends)


def _concat(lo: _Lowering, layer: d.Concat, x: str, at: _At) -> str:
    outs, parts = _branches(lo, layer, x, at)
    if len({lo.chw(o)[1:] for o in outs}) != 1:
        raise GeometryError(f"concat '{layer.name}': branches end in different H×W {[lo.chw(o)[1:] for o in outs]}")
    y = lo.node("Concat", tuple(outs), {"axis": 1}, layer.name or "concat")
    return lo.group(layer, "concat", at, x, y, parts)


def _add(lo: _Lowering, layer: d.Add, x: str, at: _At) -> str:
    outs, parts = _branches(lo, layer, x, at)
    if len({lo.chw(o) for o in outs}) != 1:
        raise GeometryError(f"add '{layer.name}': branches end in different shapes {[lo.chw(o) for o in outs]}")
    y = outs[0]
    for o in outs[1:]:
        y = lo.node("Add", (y, o), {}, layer.name or "add")
    return lo.group(layer, "add", at, x, y, parts)


def _block(lo: _Lowering, layer: d.Block, x: str, at: _At) -> str:
    y, parts = lo.nested(layer.layers, x, _At(at.depth + 1, at.branch, at.top))
    return lo.group(layer, "block", at, x, y, (parts,))


_LOWER: dict[type, Callable[[_Lowering, d.Layer, str, _At], str]] = {
    d.Conv: _conv, d.Pool: _pool, d.Relu: _relu, d.Fc: _fc, d.Concat: _concat, d.Add: _add, d.Block: _block}


def lower(layers, in_shape, threads: int = 1, chunk_bytes: int = DEFAULT_CHUNK_BYTES, partial: bool = False
          ) -> Lowered:
    """The design as a graph with input ``INPUT`` of shape (1, C, H, W); ``threads`` and ``chunk_bytes``
    are the engine's options for its convolutions (as /api/convolve runs them). With ``partial``, a
    top-level layer that does not fit (a paper's 7×7 average pool on a small picture) ends the graph
    before it, and ``stopped`` says which and why; otherwise its GeometryError is raised."""
    lo = _Lowering(tuple(int(v) for v in in_shape), {"threads": threads, "chunk_bytes": chunk_bytes})
    x, tops, stopped = INPUT, [], None
    for i, layer in enumerate(layers):
        mark = lo.mark()
        try:
            x = lo.sequence((layer,), x, _At(0, None, i))
        except GeometryError as exc:
            if not partial:
                raise
            lo.rollback(mark)
            stopped = (i, str(exc))
            break
        tops.append(x)
    # Every shape was inferred by the registry as its node was emitted: build_graph would infer them all
    # again and cost every node for its budgets (which do not apply to counting), several times the work
    # of counting. Only its order is kept (Kahn's, which runs the branches of a join side by side).
    order = topological(lo.nodes, [INPUT, *lo.consts])
    shapes = {INPUT: lo.shapes[INPUT], **{c: lo.shapes[c] for c in lo.consts},
              **{o: lo.shapes[o] for n in order for o in n.outputs}}
    graph = Graph(tuple(order), (INPUT,), (x,), shapes, dict(lo.consts))
    return Lowered(graph, tuple(lo.rows), tuple(tops), tuple(lo.draws), tuple(lo.groups), stopped, tuple(lo.open[0]))


def design_cost(layers, in_shape) -> d.DesignCost:
    """Every leaf's row, its numbers the sum of its nodes' costs in graph.cost_table. The joins (Concat,
    Add) are not rows, as a paper's table has none: they have no params or MACs."""
    return lowered_cost(lower(layers, in_shape))


def lowered_cost(lowered: Lowered) -> d.DesignCost:
    """design_cost of a design already lowered (the cost lab prints its PyTorch source from the same one)."""
    graph = lowered.graph
    costs = {c.node.name: c.cost for c in cost_table(graph)}
    rows = []
    for p in lowered.rows:
        mine = [costs[n] for n in p.nodes]
        macs = sum(c.macs for c in mine)
        rows.append(d.DesignRow(p.name, p.kind, graph.shapes[p.input][1:], graph.shapes[p.output][1:],
                                sum(c.params for c in mine), macs, flops_from_macs(macs),
                                sum(c.bytes_written for c in mine), sum(c.bytes_moved for c in mine), p.formula,
                                p.torch, p.depth, p.branch, p.top, p.layer, p.kernel, p.padded_elements,
                                p.window_row_elements))
    by_kind: dict[str, dict[str, int]] = {}
    for r in rows:
        k = by_kind.setdefault(r.kind, {"params": 0, "macs": 0})
        k["params"] += r.params
        k["macs"] += r.macs
    tops = tuple(graph.shapes[t][1:] for t in lowered.tops)
    return d.DesignCost(tuple(rows), graph.shapes[INPUT][1:], tops[-1], sum(r.params for r in rows),
                        sum(r.macs for r in rows), sum(r.flops for r in rows),
                        sum(r.activation_bytes for r in rows), by_kind, tops)
