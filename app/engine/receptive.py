"""Receptive fields: which input pixels one output position of a layer can see, layer by layer.

The standard recurrence (Araujo, Norris & Sim, "Computing Receptive Fields of Convolutional Neural
Networks", Distill 2019), per axis, from the input forwards, for a layer with kernel k, stride s, padding
p before the input and dilation d (effective kernel d·(k − 1) + 1):

    jump  j_l = j_{l−1} · s                      (input pixels between neighbouring outputs)
    size  r_l = r_{l−1} + d·(k − 1) · j_{l−1}    (input pixels one output sees)
    start u_l = u_{l−1} − p · j_{l−1}            (input coordinate of output 0's first pixel)

with j_0 = r_0 = 1, u_0 = 0. Output x of layer l sees input [u_l + x·j_l, u_l + x·j_l + r_l − 1]
(clipped to the input: what lies outside is padding). A 1×1 layer with stride 1 leaves all three
unchanged: it mixes channels of the same field. Multi-path designs (Concat, Add) keep every path's
(r, j, u); a layer reports the range of sizes over paths and the union of their fields, which is what
a layer after them (or the Add itself) sees.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Iterable, Optional

from app.engine.geometry import pair
from app.engine.lower_design import Lowered, lower

Path = tuple[int, int, int]   # (size r, jump j, start u) along one axis
MAX_PATHS = 4096              # distinct (r, j, u) per axis kept; more paths than this are merged to their hull


@dataclass(frozen=True)
class Window:
    """One sliding-window layer along both axes: kernel, stride, padding before the input, dilation."""
    kernel: tuple[int, int]
    stride: tuple[int, int]
    pad_before: tuple[int, int]
    dilation: tuple[int, int] = (1, 1)


def step(paths: frozenset[Path], k: int, s: int, p: int, d: int) -> frozenset[Path]:
    """The recurrence for one layer along one axis, applied to every path."""
    return frozenset((r + d * (k - 1) * j, j * s, u - p * j) for r, j, u in paths)


@dataclass(frozen=True)
class Field:
    """Every path's (r, j, u) along H and along W; ``whole`` after a layer that sees all of its input."""
    h: frozenset[Path] = frozenset({(1, 1, 0)})
    w: frozenset[Path] = frozenset({(1, 1, 0)})
    whole: bool = False

    def through(self, win: Window) -> "Field":
        if self.whole:
            return self
        return Field(step(self.h, win.kernel[0], win.stride[0], win.pad_before[0], win.dilation[0]),
                     step(self.w, win.kernel[1], win.stride[1], win.pad_before[1], win.dilation[1]))

    @staticmethod
    def union(fields: Iterable["Field"]) -> "Field":
        fields = list(fields)
        if any(f.whole for f in fields):
            return Field(whole=True)
        return Field(_cap(frozenset().union(*(f.h for f in fields))), _cap(frozenset().union(*(f.w for f in fields))))

    def box(self, row: int, col: int, in_h: int, in_w: int) -> tuple[int, int, int, int]:
        """(top, left, bottom, right), inclusive, of output (row, col)'s field, before clipping to the input."""
        if self.whole:
            return 0, 0, in_h - 1, in_w - 1
        top, bottom = _span(self.h, row)
        left, right = _span(self.w, col)
        return top, left, bottom, right


def _span(paths: frozenset[Path], x: int) -> tuple[int, int]:
    return min(u + x * j for r, j, u in paths), max(u + x * j + r - 1 for r, j, u in paths)


def _cap(paths: frozenset[Path]) -> frozenset[Path]:
    """Bound the path set of very branchy graphs: past MAX_PATHS keep the extremes, which give the union."""
    if len(paths) <= MAX_PATHS:
        return paths
    lo = min(paths, key=lambda q: (q[2], -q[0]))
    hi = max(paths, key=lambda q: (q[2] + q[0], q[0]))
    small, big = min(paths), max(paths)
    return frozenset({lo, hi, small, big})


@dataclass(frozen=True)
class FieldRow:
    """One layer of a design: its output shape and receptive field summary per axis."""
    name: str
    kind: str
    depth: int
    out_shape: tuple[int, int, int]
    field: Field
    in_shape: tuple[int, int, int] = (1, 1, 1)   # the layer's input and the field it had there
    before: Field = Field()

    @property
    def grows(self) -> bool:
        """False when the layer leaves its input's field as it was (a 1×1 convolution with stride 1, ReLU)."""
        return self.field != self.before

    def input_row(self) -> "FieldRow":
        """The same layer's input, as a row (to draw the field before this layer)."""
        return FieldRow(self.name, "input", self.depth, self.in_shape, self.before, self.in_shape, self.before)

    def summary(self) -> dict:
        out = {"name": self.name, "kind": self.kind, "depth": self.depth, "out_shape": list(self.out_shape),
               "whole_input": self.field.whole}
        for axis, paths in (("h", self.field.h), ("w", self.field.w)):
            sizes, jumps = [r for r, _, _ in paths], [j for _, j, _ in paths]
            out[axis] = {"size_min": min(sizes), "size_max": max(sizes), "jump_min": min(jumps),
                         "jump_max": max(jumps), "start": min(u for _, _, u in paths), "paths": len(paths)}
        return out


def _name(layer, fallback: str) -> str:
    return getattr(layer, "name", "") or fallback


def design_fields(layers, in_shape: tuple[int, int, int]) -> list[FieldRow]:
    """A row per layer (nested ones too, Blocks, Concats and Adds after their layers) of a cost-lab design
    or paper architecture: the recurrence over the graph it lowers to (app.engine.lower_design)."""
    return _lowered_rows(lower(tuple(layers), in_shape))


def design_fields_until(layers, in_shape: tuple[int, int, int]) -> tuple[list[FieldRow], Optional[str]]:
    """As design_fields, but a top-level layer that does not fit the input (a paper's 7×7 average pool on
    a small picture) ends the walk: the rows so far, and why it stopped."""
    layers = tuple(layers)
    lowered = lower(layers, in_shape, partial=True)
    if lowered.stopped is None:
        return _lowered_rows(lowered), None
    i, why = lowered.stopped
    return _lowered_rows(lowered), f"stops before '{_name(layers[i], type(layers[i]).__name__)}': {why}"


def _lowered_rows(lowered: Lowered) -> list[FieldRow]:
    """The design's leaves in order, each Block, Concat and Add right after its last leaf."""
    graph = lowered.graph
    fields, _, _ = _graph_walk(graph)
    plans: list = []
    groups = list(lowered.groups)
    for i, leaf in enumerate((None, *lowered.rows)):
        if leaf is not None:
            plans.append((leaf.layer.name or leaf.label, leaf.label, leaf))
        while groups and groups[0].after == i:
            g = groups.pop(0)
            plans.append((g.name, g.kind, g))
    return [FieldRow(name, kind, p.depth, graph.shapes[p.output][1:], fields[p.output], graph.shapes[p.input][1:],
                     fields[p.input]) for name, kind, p in plans]


def _centre(paths: frozenset[Path]) -> float:
    """Centre of output 0's field (the union over paths), in input coordinates."""
    return (min(u for _, _, u in paths) + max(u + r - 1 for r, _, u in paths)) / 2


def nearest_output(row: FieldRow, point: tuple[float, float]) -> tuple[int, int]:
    """The output position of a layer whose field is centred nearest an input point (row, col)."""
    if row.field.whole:
        return 0, 0
    out = []
    for paths, x, size in ((row.field.h, point[0], row.out_shape[1]), (row.field.w, point[1], row.out_shape[2])):
        jump = min(j for _, j, _ in paths)
        out.append(max(0, min(size - 1, round((x - _centre(paths)) / jump))))
    return out[0], out[1]


def field_centre(row: FieldRow, position: tuple[int, int], in_h: int, in_w: int) -> tuple[float, float]:
    """The input point at the centre of one output position's field."""
    t, l, b, r = row.field.box(position[0], position[1], in_h, in_w)
    return (t + b) / 2, (l + r) / 2


def stack_fields(windows: list[Window]) -> list[Field]:
    """The field after each layer of a plain stack of windows (the tests' torch stacks)."""
    out, field = [], Field()
    for win in windows:
        field = field.through(win)
        out.append(field)
    return out


def window(kernel, stride=1, pad_before=0, dilation=1) -> Window:
    return Window(pair(kernel, "kernel"), pair(stride, "stride"), pair(pad_before, "padding"), pair(dilation, "dilation"))


def clipped(box: tuple[int, int, int, int], in_h: int, in_w: int) -> Optional[tuple[int, int, int, int]]:
    """The part of a field inside the input, or None when it is all padding."""
    t, l, b, r = max(0, box[0]), max(0, box[1]), min(in_h - 1, box[2]), min(in_w - 1, box[3])
    return (t, l, b, r) if t <= b and l <= r else None


# --- layer graphs (app.engine.graph: imported ONNX models) -------------------------------------------

def _graph_window(node, graph) -> Optional[Window]:
    """A sliding-window node in ONNX's own terms (kernel_shape or the weight's kH×kW, strides, pads
    [top, left, bottom, right], dilations); None for nodes without a window."""
    kernel = node.attrs.get("kernel_shape")
    if kernel is None and node.op == "Conv":
        kernel = graph.shapes[node.inputs[1]][2:]
    if kernel is None:
        return None
    t, l, _, _ = node.attrs.get("pads", (0, 0, 0, 0))
    return Window(tuple(kernel), tuple(node.attrs.get("strides", (1, 1))), (t, l),
                  tuple(node.attrs.get("dilations", (1, 1))))


def _graph_walk(graph) -> tuple[dict[str, Field], list[tuple], Optional[str]]:
    """The recurrence over a layer graph's nodes in topological order: every tensor's field, and per node
    (node, its first non-constant input, the field before, the field after, its window). A node with a
    window applies the recurrence; a node whose 4-D output keeps its inputs' H×W (activations, Add,
    Concat) takes the union of its inputs' fields; anything else (global pooling, Flatten, Gemm) sees the
    whole input. A transposed convolution ends the walk: its outputs do not sit on a whole-number jump."""
    fields: dict[str, Field] = {graph.inputs[0]: Field()}
    steps = []
    for node in graph.nodes:
        ins = [x for x in node.inputs if x in fields]
        if not ins:
            continue  # constants only
        if node.op == "ConvTranspose":
            return fields, steps, f"stops before '{node.name}': receptive fields through a transposed convolution are not computed"
        out = graph.shapes[node.outputs[0]]
        before = Field.union(fields[x] for x in ins)
        win = _graph_window(node, graph)
        spatial = len(out) == 4 and all(len(graph.shapes[x]) == 4 and graph.shapes[x][2:] == out[2:] for x in ins)
        field = before.through(win) if win else before if spatial else Field(whole=True)
        for o in node.outputs:
            fields[o] = field
        steps.append((node, ins[0], before, field, win))
    return fields, steps, None


def graph_fields(graph) -> tuple[list[FieldRow], Optional[str]]:
    """A row per node of a layer graph with a 4-D output, in topological order (see _graph_walk)."""
    _, steps, stopped = _graph_walk(graph)
    rows: list[FieldRow] = []
    for node, first, before, field, win in steps:
        shape_in, out = graph.shapes[first], graph.shapes[node.outputs[0]]
        kind = f"{node.op} {win.kernel[0]}×{win.kernel[1]}/{win.stride[0]}" if win else node.op
        if len(out) == 4:
            rows.append(FieldRow(node.name, kind, 0, tuple(out[1:]), field,
                                 tuple(shape_in[1:]) if len(shape_in) == 4 else tuple(out[1:]), before))
    return rows, stopped
