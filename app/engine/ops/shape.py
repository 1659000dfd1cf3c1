"""Concat, Flatten, Reshape and Constant: they move or name values, never compute on them."""
from __future__ import annotations

import numpy as np

from app.engine.cost import LayerCost, tensor_bytes
from app.engine.errors import GeometryError
from app.engine.ops import OpDef, attr, need_const, numel, register


def _copy_cost(shapes, outs) -> LayerCost:
    return LayerCost(0, 0, tensor_bytes(sum(numel(s) for s in shapes)), tensor_bytes(sum(numel(s) for s in outs)))


@register("Concat", 1, 1024)
class Concat(OpDef):
    @staticmethod
    def infer(node, shapes, consts):
        first = shapes[0]
        axis = attr(node, "axis", 1)
        if first is None or not -len(first) <= axis < len(first):
            raise GeometryError(f"Concat node '{node.name}': axis {axis} is outside {first}")
        axis %= len(first)
        for s in shapes[1:]:
            if s is None or len(s) != len(first) or any(a != b for i, (a, b) in enumerate(zip(s, first)) if i != axis):
                raise GeometryError(f"Concat node '{node.name}': shapes {shapes} differ outside axis {axis}")
        return [(*first[:axis], sum(s[axis] for s in shapes), *first[axis + 1:])]

    @staticmethod
    def cost(node, shapes, outs, consts):
        return _copy_cost(shapes, outs)

    @staticmethod
    def forward(node, xs):
        return [np.concatenate(xs, axis=attr(node, "axis", 1))]


@register("Flatten")
class Flatten(OpDef):
    @staticmethod
    def infer(node, shapes, consts):
        s, axis = shapes[0], attr(node, "axis", 1)
        if s is None or not -len(s) <= axis <= len(s):
            raise GeometryError(f"Flatten node '{node.name}': axis {axis} is outside {s}")
        axis %= len(s) + 1
        return [(numel(s[:axis]), numel(s[axis:]))]

    @staticmethod
    def cost(node, shapes, outs, consts):
        return LayerCost(0, 0, 0, 0)  # a view: nothing is read or written

    @staticmethod
    def forward(node, xs):
        return [xs[0].reshape(Flatten.infer(node, [xs[0].shape], [])[0])]


def reshape_target(name: str, shape, target, allowzero: bool) -> tuple[int, ...]:
    """ONNX's rule: 0 copies the input's size on that axis (unless allowzero), one −1 is inferred."""
    target = [int(d) for d in target]  # plain ints, also in the messages below (not np.int64(…))
    out = list(target)
    if not allowzero:
        out = [shape[i] if d == 0 and i < len(shape) else d for i, d in enumerate(out)]
    if out.count(-1) > 1 or any(d < -1 for d in out):
        raise GeometryError(f"Reshape node '{name}': target {list(target)} may hold one −1 and no other negatives")
    known = numel(tuple(d for d in out if d != -1))
    total = numel(shape)
    if -1 in out:
        if known == 0 or total % known:
            raise GeometryError(f"Reshape node '{name}': {list(shape)} cannot become {list(target)}")
        out[out.index(-1)] = total // known
    if numel(tuple(out)) != total:
        raise GeometryError(f"Reshape node '{name}': {list(shape)} has {total} values, {out} would have "
                            f"{numel(tuple(out))}")
    return tuple(out)


@register("Reshape", 2, 2)
class Reshape(OpDef):
    @staticmethod
    def infer(node, shapes, consts):
        target = need_const(node, consts, 1, "target shape")
        if shapes[0] is None:
            raise GeometryError(f"Reshape node '{node.name}' has no input")
        return [reshape_target(node.name, shapes[0], target.astype(np.int64).ravel(), bool(attr(node, "allowzero", 0)))]

    @staticmethod
    def cost(node, shapes, outs, consts):
        return LayerCost(0, 0, 0, 0)  # a view

    @staticmethod
    def forward(node, xs):
        return [xs[0].reshape(reshape_target(node.name, xs[0].shape, xs[1].astype(np.int64).ravel(),
                                             bool(attr(node, "allowzero", 0))))]


@register("Constant", 0, 0)
class Constant(OpDef):
    """Its value is decoded at load (attrs["value"]); a graph keeps it with the initializers."""
    @staticmethod
    def infer(node, shapes, consts):
        return [tuple(attr(node, "value").shape)]

    @staticmethod
    def cost(node, shapes, outs, consts):
        return LayerCost(0, 0, 0, 0)

    @staticmethod
    def forward(node, xs):
        return [attr(node, "value")]
