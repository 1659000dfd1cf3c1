"""A small network design as the cost lab and the papers' tables write it, and its cost rows.

A design is a list of layers; a ``Concat`` holds parallel branches whose outputs are stacked on C
(Inception), an ``Add`` branches that are summed (ResNet). It is counted, run and timed as a layer graph:
app.engine.lower_design lowers it into app.engine.graph, whose cost table gives every number here.
Conventions as in cost.py: MACs count multiply-accumulates, FLOPs = 2·MACs, bias adds are separate,
float32 bytes.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Union

from app.engine.geometry import Pair

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
class DesignRow:
    """One leaf layer of a design, counted: the sum of its graph nodes' costs."""
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
    layer: "Layer | None" = None       # the leaf as the design gives it
    kernel: Pair | None = None         # conv and pool windows
    padded_elements: int = 0           # the padded copy of its input the engine makes (conv, pool)
    window_row_elements: int = 0       # one output row's windows: the engine's smallest band (conv)

    @property
    def arithmetic_intensity(self) -> float:
        return self.macs / self.bytes_moved if self.bytes_moved else 0.0


@dataclass(frozen=True)
class DesignCost:
    rows: tuple[DesignRow, ...]
    in_shape: Shape
    out_shape: Shape
    params: int
    macs: int
    flops: int
    activation_bytes: int
    by_kind: dict = field(default_factory=dict)   # kind -> {"params", "macs"}
    top_shapes: tuple = ()                         # output shape after each top-level layer
