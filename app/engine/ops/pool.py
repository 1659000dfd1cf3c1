"""MaxPool, AveragePool, GlobalAveragePool and ReduceMean: shrink H and W, no parameters, no MACs."""
from __future__ import annotations

import numpy as np

from app.engine.cost import LayerCost, pool_cost, tensor_bytes
from app.engine.errors import GeometryError
from app.engine.geometry import PoolGeometry, pool_window_geometry
from app.engine.ops import Node, OpDef, attr, need_const, numel, register
from app.engine.pool import pool2d


def pool_geom(node: Node, x_shape) -> PoolGeometry:
    """ONNX pool attributes → the engine's geometry; pads are [top, left, bottom, right]."""
    if x_shape is None or len(x_shape) != 4 or x_shape[0] != 1:
        raise GeometryError(f"{node.op} node '{node.name}' needs a (1, C, H, W) input, got {x_shape}")
    if attr(node, "auto_pad", "NOTSET") not in ("NOTSET", "VALID"):
        raise GeometryError(f"{node.op} node '{node.name}': auto_pad={attr(node, 'auto_pad')} is not supported")
    if any(d != 1 for d in attr(node, "dilations", (1, 1))):
        raise GeometryError(f"{node.op} node '{node.name}': dilated pooling is not supported")
    kernel = tuple(attr(node, "kernel_shape", ()))
    if len(kernel) != 2:
        raise GeometryError(f"{node.op} node '{node.name}' needs a 2-D kernel_shape, got {list(kernel)}")
    t, l, b, r = attr(node, "pads", (0, 0, 0, 0))
    return pool_window_geometry(x_shape[1:], kernel, tuple(attr(node, "strides", (1, 1))), ((t, b), (l, r)),
                                bool(attr(node, "ceil_mode", 0)))


class _Pool(OpDef):
    kind = "max"

    @staticmethod
    def infer(node, shapes, consts):
        if len(node.outputs) != 1:
            raise GeometryError(f"{node.op} node '{node.name}': the Indices output is not supported")
        return [(1, *pool_geom(node, shapes[0]).output_shape)]

    @staticmethod
    def cost(node, shapes, outs, consts):
        c = pool_cost(pool_geom(node, shapes[0]))
        return LayerCost(0, 0, c.bytes_input, c.bytes_output)

    @classmethod
    def forward(cls, node, xs):
        g = pool_geom(node, xs[0].shape)
        return [pool2d(xs[0][0], g, cls.kind, bool(attr(node, "count_include_pad", 0)))[None]]


@register("MaxPool")
class MaxPool(_Pool):
    kind = "max"


@register("AveragePool")
class AveragePool(_Pool):
    """count_include_pad defaults to 0 in ONNX (torch exports its default True as 1)."""
    kind = "avg"


def _axes(node, shape, consts) -> tuple[int, ...]:
    if len(node.inputs) > 1 and node.inputs[1]:
        axes = need_const(node, consts, 1, "axes").astype(np.int64).ravel().tolist()
    else:
        axes = attr(node, "axes")
    if axes is None or len(axes) == 0:
        if attr(node, "noop_with_empty_axes", 0):
            raise GeometryError(f"ReduceMean node '{node.name}': noop_with_empty_axes is not supported")
        return tuple(range(len(shape)))
    out = []
    for a in axes:
        if not -len(shape) <= a < len(shape):
            raise GeometryError(f"ReduceMean node '{node.name}': axis {a} is outside {shape}")
        out.append(a % len(shape))
    return tuple(sorted(set(out)))


def _reduced(shape, axes, keep) -> tuple[int, ...]:
    return tuple(1 if i in axes else d for i, d in enumerate(shape) if keep or i not in axes)


@register("ReduceMean", 1, 2)
class ReduceMean(OpDef):
    @staticmethod
    def infer(node, shapes, consts):
        if shapes[0] is None:
            raise GeometryError(f"ReduceMean node '{node.name}' has no input")
        return [_reduced(shapes[0], _axes(node, shapes[0], consts), attr(node, "keepdims", 1))]

    @staticmethod
    def cost(node, shapes, outs, consts):
        return LayerCost(0, 0, tensor_bytes(numel(shapes[0])), tensor_bytes(numel(outs[0])))

    @staticmethod
    def forward(node, xs):
        axes = _axes(node, xs[0].shape, [None, xs[1] if len(xs) > 1 else None])
        return [xs[0].mean(axis=axes, keepdims=bool(attr(node, "keepdims", 1)), dtype=np.float32)]


@register("GlobalAveragePool")
class GlobalAveragePool(OpDef):
    """The mean of each channel's map: (1, C, H, W) → (1, C, 1, 1); a class map becomes its score."""
    @staticmethod
    def infer(node, shapes, consts):
        if shapes[0] is None or len(shapes[0]) != 4:
            raise GeometryError(f"GlobalAveragePool node '{node.name}' needs a (1, C, H, W) input, got {shapes[0]}")
        return [(*shapes[0][:2], 1, 1)]

    @staticmethod
    def cost(node, shapes, outs, consts):
        return LayerCost(0, 0, tensor_bytes(numel(shapes[0])), tensor_bytes(numel(outs[0])))

    @staticmethod
    def forward(node, xs):
        return [xs[0].mean(axis=(2, 3), keepdims=True, dtype=np.float32)]
