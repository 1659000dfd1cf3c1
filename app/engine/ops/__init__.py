"""The op registry: for each op its shape rule, its cost and its NumPy forward, side by side.

Nothing else in convlens dispatches on an op's type: a graph (app.engine.graph) asks the registry for
every node when it propagates shapes, counts costs, runs or times. Tensors keep ONNX's layout with the
batch axis, which is always 1 here: activations are (1, C, H, W), a fully connected layer's input (1, F).

An op is registered with ``@register("Name")`` on a class with three static methods:
- ``infer(node, shapes, consts) -> list[shape]``: output shapes from input shapes and the inputs known
  at load (initializers, Constant nodes; None where not known). Raises GeometryError saying what is wrong.
- ``cost(node, shapes, outs, consts) -> LayerCost``: params, MACs and bytes; formulas from engine/cost.
- ``forward(node, xs) -> list[np.ndarray]``: float32 arrays in, float32 arrays out.
A Conv followed by a Relu or a Clip that nothing else reads runs as one op when nothing keeps the
Conv's output: ``clip_bounds`` and ``takes_clip`` below.
An element-wise op whose output may overwrite its first input's memory sets ``in_place = True`` and takes
``forward(node, xs, out=None)``: the graph's run passes ``out=xs[i]`` when no later node, kept tensor or
view reads that input (app.engine.graph), which saves allocating (and page-faulting) a fresh array.
"""
from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any, Mapping, Optional

import numpy as np

from app.engine.errors import GeometryError

Shape = tuple[int, ...]


@dataclass(frozen=True)
class Node:
    name: str
    op: str
    inputs: tuple[str, ...]   # "" marks an omitted optional input, as in ONNX
    outputs: tuple[str, ...]
    attrs: Mapping[str, Any] = field(default_factory=dict)


class OpDef:
    """Base class of a registered op; subclasses override what they need."""
    name = ""
    min_inputs, max_inputs = 1, 1
    in_place = False  # forward(node, xs, out=...) may write its result into a dead input (see module doc)
    takes_clip = False  # forward(node, xs, clip=(lo, hi)) bounds its output as it makes it (Conv)

    @staticmethod
    def infer(node: Node, shapes: list[Optional[Shape]], consts: list[Optional[np.ndarray]]) -> list[Shape]:
        raise NotImplementedError

    @staticmethod
    def cost(node: Node, shapes: list[Optional[Shape]], outs: list[Shape], consts: list[Optional[np.ndarray]]):
        raise NotImplementedError

    @staticmethod
    def forward(node: Node, xs: list[Optional[np.ndarray]]) -> list[np.ndarray]:
        raise NotImplementedError

    @staticmethod
    def clip_bounds(node: Node, consts: list[Optional[np.ndarray]]) -> Optional[tuple]:
        """For an op that is an element-wise clip with bounds known at load (Relu, Clip): (lo, hi),
        either None for an open side, so the graph's run can hand them to the op before it (one that
        ``takes_clip``) instead of running this op as a separate pass. None for every other op."""
        return None

    @staticmethod
    def scratch_elements(node: Node, shapes: list[Optional[Shape]]) -> int:
        """Elements of the largest temporary ``forward`` allocates besides its outputs, which the graph
        checks against the tensor budget before anything runs (a Conv's padded input: huge pads with a
        huge stride give a small output from a padded input of billions of elements)."""
        return 0

    @staticmethod
    def calibrated(node: Node, shapes: list[Optional[Shape]]) -> bool:
        """False while this node's first forward would also measure something (a Conv's lowering trial),
        so a timed run warms the graph first instead of counting the measurement as the node's time."""
        return True


REGISTRY: dict[str, type[OpDef]] = {}


def register(name: str, min_inputs: int = 1, max_inputs: int = 1):
    def wrap(cls: type[OpDef]) -> type[OpDef]:
        cls.name, cls.min_inputs, cls.max_inputs = name, min_inputs, max_inputs
        REGISTRY[name] = cls
        return cls
    return wrap


def op_of(node: Node) -> type[OpDef]:
    op = REGISTRY.get(node.op)
    if op is None:
        raise GeometryError(f"op {node.op} is not supported; supported ops: {', '.join(sorted(REGISTRY))}")
    n = len(node.inputs)
    if not op.min_inputs <= n <= op.max_inputs:
        raise GeometryError(f"{node.op} node '{node.name}' has {n} inputs; {node.op} takes "
                            f"{op.min_inputs}–{op.max_inputs}")
    return op


def need_const(node: Node, consts: list, i: int, what: str) -> np.ndarray:
    """An input that must be known at load (a weight, a shape, an axis list)."""
    if i >= len(consts) or consts[i] is None:
        raise GeometryError(f"{node.op} node '{node.name}': its {what} (input {i}) must be a constant "
                            "(an initializer or a Constant node), not computed at run time")
    return consts[i]


def numel(shape: Shape) -> int:
    """Exact (Python integers): budgets compare it, and np.prod in int64 wraps a hostile file's declared
    2³² × 2³² to 0."""
    return math.prod(int(d) for d in shape)


def attr(node: Node, name: str, default=None):
    return node.attrs.get(name, default)


# Registering the ops: each module adds its ops to REGISTRY on import.
from app.engine.ops import conv, elementwise, pool, shape  # noqa: E402,F401
from app.engine.ops import conv_transpose  # noqa: E402,F401  (issue 15)
