"""Wire format of the cost lab: designs as tagged JSON layers, converted to the engine's frozen
dataclasses in one place (to_layers), so routers never handle both; and the requests and responses of
/api/cost, /api/measure and /api/measure/compare.

An empty branch of a concat or add is the identity: `{"op": "add", "branches": [[conv…], []]}` is a
residual block, and a concat of `[[], …]` passes the input's channels on."""
from __future__ import annotations

from dataclasses import fields
from typing import Annotated, Literal, Optional, Union

from pydantic import BaseModel, Field, StrictBool, StrictInt

from app.engine import design as d
from app.schemas import Int, Pos, PairOrInt, Strict

Shape = Annotated[list[Pos], Field(min_length=3, max_length=3, description="[C, H, W]")]

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


# Each wire op and the engine dataclass it becomes; the fields are the same names both ways.
_LAYERS: dict[type, type] = {ConvSpec: d.Conv, PoolSpec: d.Pool, ReluSpec: d.Relu, FcSpec: d.Fc,
                             ConcatSpec: d.Concat, AddSpec: d.Add}
_OPS: dict[type, str] = {layer: spec.model_fields["op"].default for spec, layer in _LAYERS.items()}


def to_layer(spec) -> d.Layer:
    fields = {k: _pair(v) for k, v in spec if k != "op"}
    if "branches" in fields:
        fields["branches"] = tuple(tuple(to_layer(s) for s in b) for b in spec.branches)
    return _LAYERS[type(spec)](**fields)


def to_layers(design: DesignSpec) -> tuple[d.Layer, ...]:
    return tuple(to_layer(s) for s in design.layers)


def from_layer(layer: d.Layer) -> dict:
    """Engine dataclass → wire JSON (for the presets the API serves); branches last, as they nest."""
    if type(layer) not in _OPS:
        raise ValueError(f"{type(layer).__name__} layers are not part of the wire format")
    out = {"op": _OPS[type(layer)]}
    for f in sorted(fields(layer), key=lambda f: f.name == "branches"):
        v = getattr(layer, f.name)
        out[f.name] = [[from_layer(s) for s in b] for b in v] if f.name == "branches" else _listify(v)
    return out


def _listify(v):
    return list(v) if isinstance(v, tuple) else v


class Row(BaseModel):
    name: str
    kind: str
    in_shape: list[int]
    out_shape: list[int]
    params: int
    macs: int
    flops: int
    activation_bytes: int
    arithmetic_intensity: float = Field(description="MACs per byte of input, weights and output moved once")
    formula: str
    torch: str
    depth: int
    branch: Optional[int]
    top: int
    convolve: Optional[dict] = Field(None, description="conv rows: the /api/convolve request (random input of the "
                                                       "row's input shape) that /conv or /pointwise shows")


class DesignResult(BaseModel):
    name: str
    out_shape: list[int]
    params: int
    macs: int
    flops: int
    activation_bytes: int
    by_kind: dict[str, dict[str, int]]
    rows: list[Row]
    torch_code: str = Field("", description="a PyTorch module with the same layers, as Python source")


class CostRequest(Strict):
    input_shape: Shape = [256, 28, 28]
    designs: Annotated[list[DesignSpec], Field(min_length=1, max_length=4)]


class CostResponse(BaseModel):
    input_shape: list[int]
    designs: list[DesignResult]
    params_ratio: list[float] = Field(description="design 0's params ÷ each design's")
    macs_ratio: list[float] = Field(description="design 0's MACs ÷ each design's")


class Comparison(BaseModel):
    name: str
    title: str
    description: str
    input_shape: list[int]
    designs: list[dict]


Repeats = Annotated[StrictInt, Field(ge=1, le=50, description="timed runs (rounds when comparing)")]
Warmup = Annotated[StrictInt, Field(ge=0, le=5, description="untimed runs first, counted in the budget and MAC limit")]
Seed = Annotated[StrictInt, Field(ge=0, le=2**31 - 1)]


class MeasureRequest(Strict):
    input_shape: Shape = [256, 28, 28]
    design: DesignSpec
    repeats: Repeats = 5
    warmup: Warmup = 1
    seed: Seed = 0


class CompareRequest(Strict):
    input_shape: Shape = [256, 28, 28]
    designs: Annotated[list[DesignSpec], Field(min_length=2, max_length=2, description="A, then B")]
    repeats: Repeats = 9
    warmup: Warmup = 1
    seed: Seed = 0


class MeasuredLayer(BaseModel):
    name: str
    kind: str
    median_ms: Optional[float] = Field(description="null when no complete run fitted in the budget")
    macs: int
    gmacs_per_s: Optional[float]
    arithmetic_intensity: float


class MeasureResponse(BaseModel):
    name: str
    median_ms: Optional[float] = Field(description="median of the timed runs; null when none completed")
    q1_ms: Optional[float] = Field(description="first quartile of the timed runs")
    q3_ms: Optional[float] = Field(description="third quartile of the timed runs")
    times_ms: list[float] = Field(description="every timed run, in order")
    runs: int
    truncated: bool = Field(description="true when the time budget stopped the runs early")
    macs: int
    layers: list[MeasuredLayer]


class SpeedupSpread(BaseModel):
    median: float = Field(description="median over rounds of A's time ÷ B's time")
    q1: float
    q3: float
    iqr_pct: float = Field(description="(q3 − q1) as a percentage of the median")


class CompareResponse(BaseModel):
    designs: list[MeasureResponse]
    pairs: int = Field(description="complete A/B rounds, the order alternating A B, B A, …")
    ratios: list[float] = Field(description="A's time ÷ B's time, one per round")
    speedup: Optional[SpeedupSpread] = Field(description="null when no round completed")
    trusted: bool = Field(description="at least 3 rounds and an IQR within 20 % of the median")
    verdict: str = Field(description="why the speed-up can or cannot be trusted, in words")
    truncated: bool


class PaperRow(BaseModel):
    name: str
    out_shape: list[int]
    params: int
    macs: int
    printed_params: Optional[str] = None
    printed_params_value: Optional[float] = None
    printed_macs: Optional[str] = None
    printed_macs_value: Optional[float] = None
    note: str = ""


class ArchitectureResponse(BaseModel):
    name: str
    title: str
    input_shape: list[int]
    params: int
    macs: int
    flops: int
    rows: list[PaperRow]
    by_kind: list[dict]
    printed_totals: dict[str, dict]
    paper_by_kind: Optional[dict[str, list[float]]] = None
    notes: list[str]
    layers: list[Row]
