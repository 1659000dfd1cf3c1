"""Conv, Gemm and MatMul: the ops with weights and multiply-accumulates."""
from __future__ import annotations

import numpy as np

from app.engine.conv import DEFAULT_CHUNK_BYTES, conv2d
from app.engine.cost import LayerCost, conv_cost, matmul_macs, tensor_bytes
from app.engine.errors import GeometryError
from app.engine.geometry import ConvGeometry, conv_geometry
from app.engine.lowering import lowering
from app.engine.threads import blas_threads
from app.engine.ops import Node, OpDef, attr, need_const, numel, register


def conv_geom(node: Node, x_shape, w_shape) -> ConvGeometry:
    """ONNX Conv attributes → the engine's geometry. pads are [top, left, bottom, right]."""
    if x_shape is None or len(x_shape) != 4 or x_shape[0] != 1:
        raise GeometryError(f"Conv node '{node.name}' needs a (1, C, H, W) input, got {x_shape}")
    if len(w_shape) != 4:
        raise GeometryError(f"Conv node '{node.name}': only 2-D convolutions are supported, weight {list(w_shape)}")
    if attr(node, "auto_pad", "NOTSET") not in ("NOTSET", "VALID"):
        raise GeometryError(f"Conv node '{node.name}': auto_pad={attr(node, 'auto_pad')} is not supported; "
                            "export with explicit pads")
    kernel = tuple(attr(node, "kernel_shape", w_shape[2:]))
    if kernel != tuple(w_shape[2:]):
        raise GeometryError(f"Conv node '{node.name}': kernel_shape {list(kernel)} disagrees with weight {list(w_shape)}")
    t, l, b, r = attr(node, "pads", (0, 0, 0, 0))
    geom = conv_geometry(x_shape[1:], w_shape[0], kernel, tuple(attr(node, "strides", (1, 1))),
                         ((t, b), (l, r)), tuple(attr(node, "dilations", (1, 1))), attr(node, "group", 1))
    if tuple(w_shape) != geom.weight_shape:
        raise GeometryError(f"Conv node '{node.name}': weight {list(w_shape)} does not match "
                            f"[C_out, C_in/groups, kH, kW] = {list(geom.weight_shape)}")
    return geom


@register("Conv", 2, 3)
class Conv(OpDef):
    takes_clip = True
    @staticmethod
    def infer(node, shapes, consts):
        w = need_const(node, consts, 1, "weight")
        geom = conv_geom(node, shapes[0], w.shape)
        if len(shapes) == 3 and shapes[2] != (geom.out_channels,):
            raise GeometryError(f"Conv node '{node.name}': bias must have shape [{geom.out_channels}], got {shapes[2]}")
        return [(1, *geom.output_shape)]

    @staticmethod
    def cost(node, shapes, outs, consts):
        c = conv_cost(conv_geom(node, shapes[0], shapes[1]), len(shapes) == 3)
        return LayerCost(c.params, c.macs, c.bytes_input + c.bytes_weights, c.bytes_output)

    @staticmethod
    def forward(node, xs, clip=None):
        x, w = xs[0], xs[1]
        t, l, b, r = attr(node, "pads", (0, 0, 0, 0))
        y = conv2d(x[0], w, xs[2] if len(xs) == 3 else None, tuple(attr(node, "strides", (1, 1))),
                   ((t, b), (l, r)), tuple(attr(node, "dilations", (1, 1))), attr(node, "group", 1),
                   threads=attr(node, "threads", None), chunk_bytes=attr(node, "chunk_bytes", DEFAULT_CHUNK_BYTES),
                   clip=clip)
        return [y[None]]

    @staticmethod
    def scratch_elements(node, shapes):
        return conv_geom(node, shapes[0], shapes[1]).padded_elements

    @staticmethod
    def calibrated(node, shapes):
        threads = attr(node, "threads", None)
        geom = conv_geom(node, shapes[0], shapes[1])
        return lowering(geom, blas_threads() if threads is None else threads) is not None


def _gemm_dims(node, a, b):
    if a is None or b is None or len(a) != 2 or len(b) != 2:
        raise GeometryError(f"Gemm node '{node.name}' needs 2-D A and B, got {a} and {b}")
    m, k = a[::-1] if attr(node, "transA", 0) else a
    k2, n = b[::-1] if attr(node, "transB", 0) else b
    if k != k2:
        raise GeometryError(f"Gemm node '{node.name}': A is {m}×{k} but B is {k2}×{n}; the inner sizes must agree")
    return m, k, n


def _const_params(consts, indices) -> int:
    return sum(consts[i].size for i in indices if i < len(consts) and consts[i] is not None)


@register("Gemm", 2, 3)
class Gemm(OpDef):
    """Y = α·A'·B' + β·C, A' and B' optionally transposed: a fully connected layer."""
    @staticmethod
    def infer(node, shapes, consts):
        m, _, n = _gemm_dims(node, shapes[0], shapes[1])
        if len(shapes) == 3:
            try:
                np.broadcast_shapes(shapes[2], (m, n))
            except ValueError:
                raise GeometryError(f"Gemm node '{node.name}': C {shapes[2]} does not broadcast to {(m, n)}") from None
        return [(m, n)]

    @staticmethod
    def cost(node, shapes, outs, consts):
        m, k, n = _gemm_dims(node, shapes[0], shapes[1])
        read = sum(numel(s) for s in shapes)
        return LayerCost(_const_params(consts, (1, 2)), matmul_macs(1, m, k, n), tensor_bytes(read),
                         tensor_bytes(m * n))

    @staticmethod
    def forward(node, xs):
        a = xs[0].T if attr(node, "transA", 0) else xs[0]
        b = xs[1].T if attr(node, "transB", 0) else xs[1]
        y = np.matmul(a, b)
        alpha, beta = attr(node, "alpha", 1.0), attr(node, "beta", 1.0)
        if alpha != 1.0:
            y *= np.float32(alpha)
        if len(xs) == 3:
            y += xs[2] if beta == 1.0 else np.float32(beta) * xs[2]
        return [y.astype(np.float32, copy=False)]


def _matmul_shape(node, a, b):
    if a is None or b is None or len(a) < 2 or len(b) < 2:
        raise GeometryError(f"MatMul node '{node.name}' needs inputs of 2 or more axes, got {a} and {b}")
    if a[-1] != b[-2]:
        raise GeometryError(f"MatMul node '{node.name}': {a} · {b}: the inner sizes {a[-1]} and {b[-2]} differ")
    try:
        batch = np.broadcast_shapes(a[:-2], b[:-2])
    except ValueError:
        raise GeometryError(f"MatMul node '{node.name}': batch axes of {a} and {b} do not broadcast") from None
    return tuple(batch), a[-2], a[-1], b[-1]


@register("MatMul", 2, 2)
class MatMul(OpDef):
    @staticmethod
    def infer(node, shapes, consts):
        batch, m, _, n = _matmul_shape(node, shapes[0], shapes[1])
        return [(*batch, m, n)]

    @staticmethod
    def cost(node, shapes, outs, consts):
        batch, m, k, n = _matmul_shape(node, shapes[0], shapes[1])
        return LayerCost(_const_params(consts, (0, 1)), matmul_macs(numel(batch), m, k, n),
                         tensor_bytes(numel(shapes[0]) + numel(shapes[1])), tensor_bytes(numel(outs[0])))

    @staticmethod
    def forward(node, xs):
        return [np.matmul(xs[0], xs[1])]
