"""Wire format of designs for the cost lab: layers as tagged JSON objects, converted to the engine's
frozen dataclasses in one place (to_layers), so routers never handle both."""
from __future__ import annotations

from typing import Annotated, Literal, Optional, Union

from pydantic import Field, StrictBool

from app.engine import design as d
from app.schemas import Int, Pos, PairOrInt, Strict

PaddingSpec = Union[Int, Annotated[list[Int], Field(min_length=2, max_length=2)], Literal["same", "valid"]]


class ConvSpec(Strict):
    op: Literal["conv"] = "conv"
    out: Pos
    k: PairOrInt = 1
    stride: PairOrInt = 1
    padding: PaddingSpec = 0
    groups: Int = Field(1, description="0 means depthwise (groups = C_in)")
    bias: StrictBool = False
    name: str = Field("", max_length=80)


class PoolSpec(Strict):
    op: Literal["pool"] = "pool"
    k: PairOrInt
    stride: Optional[PairOrInt] = None
    padding: Annotated[Int, Field(le=64)] = 0
    kind: Literal["max", "avg"] = "max"
    name: str = Field("", max_length=80)


class ReluSpec(Strict):
    op: Literal["relu"] = "relu"
    name: str = Field("", max_length=80)


class FcSpec(Strict):
    op: Literal["fc"] = "fc"
    out: Pos
    bias: StrictBool = False
    name: str = Field("", max_length=80)


class ConcatSpec(Strict):
    op: Literal["concat"] = "concat"
    branches: Annotated[list[list["LayerSpecC"]], Field(min_length=1, max_length=8)]
    name: str = Field("", max_length=80)


class AddSpec(Strict):
    op: Literal["add"] = "add"
    branches: Annotated[list[list["LayerSpecC"]], Field(min_length=1, max_length=8)]
    name: str = Field("", max_length=80)


LayerSpecC = Annotated[Union[ConvSpec, PoolSpec, ReluSpec, FcSpec, ConcatSpec, AddSpec], Field(discriminator="op")]
ConcatSpec.model_rebuild()
AddSpec.model_rebuild()


class DesignSpec(Strict):
    name: str = Field("design", max_length=80)
    layers: Annotated[list[LayerSpecC], Field(min_length=1, max_length=64)]


def _pair(v):
    return tuple(v) if isinstance(v, list) else v


def to_layer(spec) -> d.Layer:
    if isinstance(spec, ConvSpec):
        return d.Conv(spec.out, _pair(spec.k), _pair(spec.stride), _pair(spec.padding), spec.groups, spec.bias, spec.name)
    if isinstance(spec, PoolSpec):
        return d.Pool(_pair(spec.k), _pair(spec.stride), spec.padding, spec.kind, spec.name)
    if isinstance(spec, ReluSpec):
        return d.Relu(spec.name)
    if isinstance(spec, FcSpec):
        return d.Fc(spec.out, spec.bias, spec.name)
    branches = tuple(tuple(to_layer(s) for s in b) for b in spec.branches)
    return d.Concat(branches, spec.name) if isinstance(spec, ConcatSpec) else d.Add(branches, spec.name)


def to_layers(design: DesignSpec) -> tuple[d.Layer, ...]:
    return tuple(to_layer(s) for s in design.layers)


def from_layer(layer: d.Layer) -> dict:
    """Engine dataclass → wire JSON (for the presets the API serves)."""
    if isinstance(layer, d.Conv):
        return {"op": "conv", "out": layer.out, "k": _listify(layer.k), "stride": _listify(layer.stride),
                "padding": _listify(layer.padding), "groups": layer.groups, "bias": layer.bias, "name": layer.name}
    if isinstance(layer, d.Pool):
        return {"op": "pool", "k": _listify(layer.k), "stride": _listify(layer.stride), "padding": layer.padding,
                "kind": layer.kind, "name": layer.name}
    if isinstance(layer, d.Relu):
        return {"op": "relu", "name": layer.name}
    if isinstance(layer, d.Fc):
        return {"op": "fc", "out": layer.out, "bias": layer.bias, "name": layer.name}
    if isinstance(layer, d.Block):
        raise ValueError("blocks are not part of the wire format")
    return {"op": "concat" if isinstance(layer, d.Concat) else "add", "name": layer.name,
            "branches": [[from_layer(s) for s in b] for b in layer.branches]}


def _listify(v):
    return list(v) if isinstance(v, tuple) else v
