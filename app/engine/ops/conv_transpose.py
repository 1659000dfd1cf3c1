"""ConvTranspose (issue 15): ONNX's transposed convolution on the engine's conv_transpose2d.

Weight [C_in, C_out/group, kH, kW] as in ONNX and torch. pads are [top, left, bottom, right]; the engine
(like torch) crops the same amount on both sides, so asymmetric pads and an explicit output_shape are
refused with a message rather than approximated. Cost from engine/cost.py: one MAC per tap of every
input pixel's stamp, as torch's FlopCounterMode counts.
"""
from __future__ import annotations

from app.engine.cost import LayerCost, transposed_cost
from app.engine.errors import GeometryError
from app.engine.geometry import TransposedGeometry, transposed_geometry
from app.engine.ops import Node, OpDef, attr, need_const, register
from app.engine.transposed import conv_transpose2d


def tconv_geom(node: Node, x_shape, w_shape) -> TransposedGeometry:
    if x_shape is None or len(x_shape) != 4 or x_shape[0] != 1:
        raise GeometryError(f"ConvTranspose node '{node.name}' needs a (1, C, H, W) input, got {x_shape}")
    if len(w_shape) != 4:
        raise GeometryError(f"ConvTranspose node '{node.name}': only 2-D is supported, weight {list(w_shape)}")
    if attr(node, "auto_pad", "NOTSET") not in ("NOTSET", "VALID"):
        raise GeometryError(f"ConvTranspose node '{node.name}': auto_pad={attr(node, 'auto_pad')} is not "
                            "supported; export with explicit pads")
    if attr(node, "output_shape") is not None:
        raise GeometryError(f"ConvTranspose node '{node.name}': output_shape is not supported; export with pads "
                            "and output_padding")
    kernel = tuple(attr(node, "kernel_shape", w_shape[2:]))
    if kernel != tuple(w_shape[2:]):
        raise GeometryError(f"ConvTranspose node '{node.name}': kernel_shape {list(kernel)} disagrees with weight "
                            f"{list(w_shape)}")
    t, l, b, r = attr(node, "pads", (0, 0, 0, 0))
    if (t, l) != (b, r):
        raise GeometryError(f"ConvTranspose node '{node.name}': asymmetric pads {[t, l, b, r]} are not supported "
                            "(torch exports symmetric ones)")
    group = attr(node, "group", 1)
    return transposed_geometry(x_shape[1:], w_shape[1] * group, kernel, tuple(attr(node, "strides", (1, 1))), (t, l),
                               tuple(attr(node, "output_padding", (0, 0))), tuple(attr(node, "dilations", (1, 1))),
                               group)


def _check_weight(node: Node, g: TransposedGeometry, w_shape) -> None:
    if tuple(w_shape) != g.weight_shape:
        raise GeometryError(f"ConvTranspose node '{node.name}': weight {list(w_shape)} does not match "
                            f"[C_in, C_out/group, kH, kW] = {list(g.weight_shape)}")


@register("ConvTranspose", 2, 3)
class ConvTranspose(OpDef):
    @staticmethod
    def infer(node, shapes, consts):
        w = need_const(node, consts, 1, "weight")
        g = tconv_geom(node, shapes[0], w.shape)
        _check_weight(node, g, w.shape)
        if len(shapes) == 3 and shapes[2] != (g.out_channels,):
            raise GeometryError(f"ConvTranspose node '{node.name}': bias must have shape [{g.out_channels}], "
                                f"got {shapes[2]}")
        return [(1, *g.output_shape)]

    @staticmethod
    def cost(node, shapes, outs, consts):
        c = transposed_cost(tconv_geom(node, shapes[0], shapes[1]), len(shapes) == 3)
        return LayerCost(c.params, c.macs, c.bytes_input + c.bytes_weights, c.bytes_output)

    @staticmethod
    def forward(node, xs):
        g = tconv_geom(node, xs[0].shape, xs[1].shape)
        y = conv_transpose2d(xs[0][0], xs[1], xs[2] if len(xs) == 3 else None, g.stride, g.padding,
                             g.output_padding, g.dilation, g.groups)
        return [y[None]]
