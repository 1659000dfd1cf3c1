"""Costs of a small network design, layer by layer, from shapes alone (nothing is allocated).

A design is a list of layers; a ``Concat`` holds parallel branches whose outputs are stacked on C
(Inception). Every number comes from the single formulas in geometry.py and cost.py. Conventions
as there: MACs count multiply-accumulates, FLOPs = 2·MACs, bias adds are separate, float32 bytes.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Union

from app.engine.cost import BYTES_PER_VALUE, conv_cost, flops_from_macs, pool_cost
from app.engine.errors import GeometryError
from app.engine.explain import macs_formula, params_formula, torch_line
from app.engine.geometry import Pair, conv_geometry, pool_geometry

Shape = tuple[int, int, int]


@dataclass(frozen=True)
class Conv:
    out: int
    k: int | Pair = 1
    stride: int | Pair = 1
    padding: int | Pair | str = 0
    groups: int = 1            # 0 means depthwise: groups = C_in (and out is then a multiple of C_in)
    bias: bool = False
    name: str = ""


@dataclass(frozen=True)
class Pool:
    k: int | Pair
    stride: int | Pair | None = None
    padding: int | Pair = 0
    kind: str = "max"
    name: str = ""


@dataclass(frozen=True)
class Relu:
    name: str = ""


@dataclass(frozen=True)
class Fc:
    """A fully connected layer on the flattened input (C·H·W features)."""
    out: int
    bias: bool = False
    name: str = ""


@dataclass(frozen=True)
class Concat:
    """Parallel branches on the same input, outputs stacked along C (an Inception module)."""
    branches: tuple[tuple["Layer", ...], ...]
    name: str = ""


@dataclass(frozen=True)
class Add:
    """Parallel branches summed element-wise (a residual block); an empty branch is the identity."""
    branches: tuple[tuple["Layer", ...], ...]
    name: str = ""


@dataclass(frozen=True)
class Block:
    """Layers in sequence under one name: one row of a paper's table."""
    layers: tuple["Layer", ...]
    name: str = ""


Layer = Union[Conv, Pool, Relu, Fc, Concat, Add, Block]


@dataclass(frozen=True)
class LayerCost:
    name: str
    kind: str                  # "1×1 conv", "k×k conv", "depthwise conv", "grouped conv", "fully connected", …
    in_shape: Shape
    out_shape: Shape
    params: int
    macs: int
    flops: int
    activation_bytes: int      # the layer's output, float32
    bytes_moved: int           # input + weights + output, each once: the denominator of arithmetic intensity
    formula: str
    torch: str = ""            # the equivalent PyTorch module
    depth: int = 0             # nesting inside a Concat/Add branch or Block
    branch: int | None = None
    top: int = 0               # index of the top-level layer (paper row) this row belongs to

    @property
    def arithmetic_intensity(self) -> float:
        return self.macs / self.bytes_moved if self.bytes_moved else 0.0


@dataclass(frozen=True)
class DesignCost:
    rows: tuple[LayerCost, ...]
    in_shape: Shape
    out_shape: Shape
    params: int
    macs: int
    flops: int
    activation_bytes: int
    by_kind: dict = field(default_factory=dict)   # kind -> {"params", "macs"}
    top_shapes: tuple = ()                         # output shape after each top-level layer


def _volume(shape: Shape) -> int:
    return shape[0] * shape[1] * shape[2]


def conv_kind(k: Pair, groups: int, c_in: int) -> str:
    """The layer types of MobileNet's "resource per layer type" table, for every architecture."""
    if groups == c_in and c_in > 1:
        return "depthwise conv"
    if groups > 1:
        return "grouped conv"
    return "1×1 conv" if k == (1, 1) else "k×k conv"


def _conv(layer: Conv, shape: Shape) -> LayerCost:
    groups = shape[0] if layer.groups == 0 else layer.groups
    g = conv_geometry(shape, layer.out, layer.k, layer.stride, layer.padding, 1, groups)
    c = conv_cost(g, layer.bias)
    kind = conv_kind(g.kernel, g.groups, g.in_channels)
    name = layer.name or f"conv {g.kernel[0]}×{g.kernel[1]} {g.in_channels}→{g.out_channels}" + \
        (f" /{g.stride[0]}" if g.stride != (1, 1) else "") + (f" g={g.groups}" if g.groups > 1 else "")
    return LayerCost(name, kind, shape, g.output_shape, c.params, c.macs, c.flops, c.bytes_output,
                     c.bytes_input + c.bytes_weights + c.bytes_output,
                     f"{params_formula(g, layer.bias)}; {macs_formula(g)}", torch_line(g, layer.bias))


def _pool(layer: Pool, shape: Shape) -> LayerCost:
    g = pool_geometry(shape, layer.k, layer.stride, layer.padding)
    c = pool_cost(g)
    name = layer.name or f"{layer.kind} pool {g.kernel[0]}×{g.kernel[1]} /{g.stride[0]}"
    return LayerCost(name, f"{layer.kind} pool", shape, g.output_shape, 0, 0, 0, c.bytes_output,
                     c.bytes_input + c.bytes_output,
                     f"params = 0; {c.comparisons_or_adds:,} {'comparisons' if layer.kind == 'max' else 'adds'}",
                     f"torch.nn.{'MaxPool2d' if layer.kind == 'max' else 'AvgPool2d'}({g.kernel}, stride={g.stride}, "
                     f"padding={g.padding})")


def _fc(layer: Fc, shape: Shape) -> LayerCost:
    features = _volume(shape)
    weights = features * layer.out
    params = weights + (layer.out if layer.bias else 0)
    formula = (f"params = features · out{' + out' if layer.bias else ''} = {features} · {layer.out}"
               f"{f' + {layer.out}' if layer.bias else ''} = {params:,}; MACs = {weights:,}")
    return LayerCost(layer.name or f"fc {features}→{layer.out}", "fully connected", shape, (layer.out, 1, 1),
                     params, weights, flops_from_macs(weights), layer.out * BYTES_PER_VALUE,
                     (features + params + layer.out) * BYTES_PER_VALUE, formula,
                     f"torch.nn.Linear({features}, {layer.out}, bias={layer.bias})  # after torch.flatten")


def _rows(layers: tuple[Layer, ...] | list[Layer], shape: Shape, depth: int = 0,
          branch: int | None = None, top: int | None = None, tops: list | None = None) -> tuple[list[LayerCost], Shape]:
    rows: list[LayerCost] = []
    for i, layer in enumerate(layers):
        if tops is not None and i > 0:
            tops.append(shape)  # the previous top-level layer's output
        t = i if top is None else top
        if isinstance(layer, Block):
            sub, shape = _rows(layer.layers, shape, depth + 1, branch, t)
            rows += sub
            continue
        if isinstance(layer, (Concat, Add)):
            outs = []
            for b, branch_layers in enumerate(layer.branches):
                sub, out = _rows(branch_layers, shape, depth + 1, b, t)
                rows += sub
                outs.append(out)
            if isinstance(layer, Add):
                if len(set(outs)) != 1:
                    raise GeometryError(f"add '{layer.name}': branches end in different shapes {outs}")
                shape = outs[0]
                continue
            if len({o[1:] for o in outs}) != 1:
                raise GeometryError(f"concat '{layer.name}': branches end in different H×W {[o[1:] for o in outs]}")
            shape = (sum(o[0] for o in outs), *outs[0][1:])
            continue
        if isinstance(layer, Relu):
            row = LayerCost(layer.name or "ReLU", "activation", shape, shape, 0, 0, 0, _volume(shape) * BYTES_PER_VALUE,
                            2 * _volume(shape) * BYTES_PER_VALUE, "params = 0", "torch.nn.ReLU()")
        elif isinstance(layer, Conv):
            row = _conv(layer, shape)
        elif isinstance(layer, Pool):
            row = _pool(layer, shape)
        else:
            row = _fc(layer, shape)
        rows.append(LayerCost(**{**row.__dict__, "depth": depth, "branch": branch, "top": t}))
        shape = row.out_shape
    return rows, shape


def design_cost(layers: list[Layer] | tuple[Layer, ...], in_shape: Shape) -> DesignCost:
    tops: list[Shape] = []
    rows, out = _rows(layers, tuple(int(v) for v in in_shape), tops=tops)
    tops.append(out)
    by_kind: dict[str, dict[str, int]] = {}
    for r in rows:
        k = by_kind.setdefault(r.kind, {"params": 0, "macs": 0})
        k["params"] += r.params
        k["macs"] += r.macs
    return DesignCost(tuple(rows), tuple(in_shape), out, sum(r.params for r in rows), sum(r.macs for r in rows),
                      sum(r.flops for r in rows), sum(r.activation_bytes for r in rows), by_kind, tuple(tops))
