"""Element-wise ops: activations, broadcasting arithmetic, Softmax and Identity. No MACs; each reads
its inputs and writes its output once."""
from __future__ import annotations

import numpy as np

from app.engine.cost import LayerCost, tensor_bytes
from app.engine.errors import GeometryError
from app.engine.ops import OpDef, attr, numel, register


def _passthrough_cost(shapes, outs, params: int = 0) -> LayerCost:
    return LayerCost(params, 0, tensor_bytes(sum(numel(s) for s in shapes if s is not None)),
                     tensor_bytes(sum(numel(s) for s in outs)))


class _Unary(OpDef):
    @staticmethod
    def infer(node, shapes, consts):
        if shapes[0] is None:
            raise GeometryError(f"{node.op} node '{node.name}' has no input")
        return [shapes[0]]

    @staticmethod
    def cost(node, shapes, outs, consts):
        return _passthrough_cost(shapes[:1], outs)


@register("Relu")
class Relu(_Unary):
    in_place = True

    @staticmethod
    def clip_bounds(node, consts):
        return (0.0, None)

    @staticmethod
    def forward(node, xs, out=None):
        return [np.maximum(xs[0], np.float32(0), out=out)]


@register("Identity")
class Identity(_Unary):
    @staticmethod
    def forward(node, xs):
        return [xs[0]]


@register("Clip", 1, 3)
class Clip(_Unary):
    """Bounds from inputs 1 and 2 (opset ≥ 11) or from attributes min/max (opset 6); ReLU6 is Clip(0, 6).
    Both bounds in one pass (np.clip); a bound that is not given leaves that side open."""
    in_place = True

    @staticmethod
    def clip_bounds(node, consts):
        """Bounds that are initializers, Constant outputs or attributes; None if one is computed."""
        bounds = []
        for i, name in ((1, "min"), (2, "max")):
            if i < len(node.inputs) and node.inputs[i]:
                if consts[i] is None:
                    return None
                bounds.append(float(consts[i]))
            else:
                bounds.append(None if attr(node, name) is None else float(attr(node, name)))
        return None if bounds == [None, None] else tuple(bounds)

    @staticmethod
    def forward(node, xs, out=None):
        lo = xs[1] if len(xs) > 1 and xs[1] is not None else attr(node, "min")
        hi = xs[2] if len(xs) > 2 and xs[2] is not None else attr(node, "max")
        x = np.asarray(xs[0], dtype=np.float32)
        if lo is None and hi is None:
            return [x]
        return [np.clip(x, None if lo is None else np.float32(lo), None if hi is None else np.float32(hi), out=out)]


@register("Softmax")
class Softmax(_Unary):
    """Along ``axis`` (default −1, as opset 13 has it), shifted by the maximum so exp never overflows."""
    @staticmethod
    def infer(node, shapes, consts):
        axis = attr(node, "axis", -1)
        if shapes[0] is None or not -len(shapes[0]) <= axis < len(shapes[0]):
            raise GeometryError(f"Softmax node '{node.name}': axis {axis} is outside {shapes[0]}")
        return [shapes[0]]

    @staticmethod
    def forward(node, xs):
        axis = attr(node, "axis", -1)
        e = np.exp(xs[0] - xs[0].max(axis=axis, keepdims=True))
        return [(e / e.sum(axis=axis, keepdims=True)).astype(np.float32, copy=False)]


class _Binary(OpDef):
    """NumPy broadcasting is ONNX's multidirectional broadcasting. ``out`` (from the graph's run) is a
    dead input of the output's shape."""
    fn = None
    in_place = True

    @classmethod
    def infer(cls, node, shapes, consts):
        try:
            return [tuple(np.broadcast_shapes(shapes[0], shapes[1]))]
        except (ValueError, TypeError):
            raise GeometryError(f"{node.op} node '{node.name}': shapes {shapes[0]} and {shapes[1]} do not "
                                "broadcast") from None

    @staticmethod
    def cost(node, shapes, outs, consts):
        params = sum(c.size for c in consts if c is not None and c.dtype.kind == "f")
        return _passthrough_cost(shapes, outs, params)

    @classmethod
    def forward(cls, node, xs, out=None):
        return [cls.fn(xs[0], xs[1], out=out).astype(np.float32, copy=False)]


for _name, _fn in (("Add", np.add), ("Sub", np.subtract), ("Mul", np.multiply), ("Div", np.divide)):
    register(_name, 2, 2)(type(_name, (_Binary,), {"fn": staticmethod(_fn)}))


@register("Cast")
class Cast(_Unary):
    """To a float type (computed as float32, the engine's one float type) or an integer type (int64)."""
    FLOATS, INTS = {1, 10, 11}, {6, 7}

    @staticmethod
    def infer(node, shapes, consts):
        if attr(node, "to") not in Cast.FLOATS | Cast.INTS:
            raise GeometryError(f"Cast node '{node.name}': target type {attr(node, 'to')} is not supported "
                                "(float or integer types only)")
        return [shapes[0]]

    @staticmethod
    def forward(node, xs):
        return [np.asarray(xs[0]).astype(np.float32 if attr(node, "to") in Cast.FLOATS else np.int64)]
