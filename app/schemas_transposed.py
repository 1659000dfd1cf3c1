"""Request and response models of /api/transposed, /api/transposed/trace and /api/transposed/view (issue 15)."""
from __future__ import annotations

from typing import Annotated, Literal, Optional, Union

from pydantic import BaseModel, ConfigDict, Field, StrictBool, StrictInt

from app.schemas import (CheckError, Cost, EncodedArray, InputInfo, InputSpec, Int, Num, PairOrInt, Pos, Position, Region,
                         SampleInput, Strict)

IntPair = Union[Int, Annotated[list[Int], Field(min_length=2, max_length=2)]]


class TransposedLayerSpec(Strict):
    """Omitted fields come from the weights: upsampling kernels fix the kernel, groups and padding."""
    out_channels: Optional[Pos] = Field(None, description="default: C_in for upsampling kernels, 4 for random")
    kernel_size: Optional[PairOrInt] = Field(None, description="default: 3 for random weights")
    stride: PairOrInt = 2
    padding: Optional[IntPair] = Field(None, description="default: 0, or what makes an upsampler exact")
    output_padding: IntPair = Field(0, description="extra rows/cols at the bottom/right; < max(stride, dilation)")
    dilation: PairOrInt = 1
    groups: Optional[Pos] = None
    bias: Optional[StrictBool] = Field(None, description="default: on for random weights, off otherwise")


class TRandomWeights(Strict):
    kind: Literal["random"] = "random"
    seed: Int = 0


class UpsampleWeights(Strict):
    """One kernel per channel (groups = C_in) that upsamples by the stride: nearest or bilinear."""
    kind: Literal["upsample"] = "upsample"
    name: Literal["nearest", "bilinear"] = "bilinear"


class TCustomWeights(Strict):
    kind: Literal["custom"] = "custom"
    weight: list[list[list[list[Num]]]] = Field(description="[C_in][C_out/groups][kH][kW], torch's layout")
    bias: Optional[list[Num]] = None


TWeightSpec = Annotated[Union[TRandomWeights, UpsampleWeights, TCustomWeights], Field(discriminator="kind")]


class TransposedRequest(Strict):
    input: InputSpec = SampleInput(name="edges")
    layer: TransposedLayerSpec = TransposedLayerSpec()
    weights: TWeightSpec = UpsampleWeights()
    encoding: Literal["base64", "binary", "list"] = "base64"
    include_input: StrictBool = Field(False, description="also return the input tensor (for drawing it)")
    region_size: Optional[Annotated[StrictInt, Field(ge=1, le=64)]] = Field(
        None, description="also return the size×size output region with the most detail (where a page starts)")

    model_config = ConfigDict(extra="forbid", json_schema_extra={"examples": [
        {"input": {"kind": "sample", "name": "edges"}, "layer": {"stride": 2},
         "weights": {"kind": "upsample", "name": "bilinear"}},
        {"input": {"kind": "random", "shape": [4, 5, 5], "seed": 1},
         "layer": {"out_channels": 2, "kernel_size": 3, "stride": 2, "padding": 1, "output_padding": 1},
         "weights": {"kind": "random", "seed": 0}},
    ]})


class TransposedCheckRequest(Strict):
    input: InputSpec = SampleInput(name="edges")
    layer: TransposedLayerSpec = TransposedLayerSpec()
    weights: TWeightSpec = UpsampleWeights()


class TransposedSpot(Strict):
    """A square of outputs to trace, placed by the server on the output this layer gives (which the page
    does not know yet when a control changes the layer)."""
    channel: Int = Field(0, description="output channel; past the last, the last")
    row: Optional[Int] = Field(None, description="the square's top output row, moved up to fit inside the output. "
                                                 "row and col omitted: the square with the most output detail "
                                                 "(what /api/transposed's region_size picks)")
    col: Optional[Int] = Field(None, description="the square's left output column, moved left to fit")
    size: Annotated[StrictInt, Field(ge=1, le=64)] = Field(6, description="size×size outputs, cut to the output")


class TransposedTraceRequest(TransposedRequest):
    positions: list[Position] = Field(default_factory=lambda: [Position()], min_length=1, max_length=4096)
    spot: Optional[TransposedSpot] = Field(None, description="instead of positions: every output of this square, "
                                                             "in row-major order (the answer's `region`)")


class ResolvedTransposed(BaseModel):
    in_channels: int
    out_channels: int
    kernel_size: list[int]
    stride: list[int]
    padding: list[int]
    output_padding: list[int]
    dilation: list[int]
    groups: int
    bias: bool
    gather_padding: list[list[int]] = Field(description="[[top, bottom], [left, right]] of the equivalent direct "
                                                        "convolution; negative means cropped")
    zero_inserted_shape: list[int] = Field(description="[H, W] once s − 1 zeros sit between input pixels")
    gather_shape: list[int] = Field(description="[H, W] of the zero-inserted input after the gather padding")
    stamp_span: list[int] = Field(description="[H, W] one input pixel's stamp covers: d·(k − 1) + 1")


class Restores(BaseModel):
    axis: str
    conv_inputs: list[int] = Field(description="every input length the convolution with the same k, s, p, d maps "
                                               "onto this layer's input length")
    output_padding_for_each: list[int]
    restored: int
    restores_conv_input: bool
    text: str


class TransposedFormulas(BaseModel):
    out_height: str
    out_width: str
    params: str
    macs: str
    zero_inserted_macs: str
    flops: str
    torch: str
    gather: list[str]
    relationships: list[str]
    restores: list[Restores]


class TransposedCheckResponse(BaseModel):
    """An invalid layer is a valid answer: ``valid: false`` with the error /api/transposed would give."""
    valid: bool
    error: Optional[CheckError] = None
    input: Optional[InputInfo] = None
    layer: Optional[ResolvedTransposed] = None
    output_shape: Optional[list[int]] = None
    cost: Optional["TransposedCost"] = None
    formulas: Optional["TransposedFormulas"] = None


class TransposedCost(Cost):
    zero_inserted_macs: int = Field(description="MACs of the gather reading run naively, inserted zeros included")


class TransposedResponse(BaseModel):
    input: InputInfo
    input_array: Optional[EncodedArray] = None
    gather_array: Optional[EncodedArray] = Field(None, description="with include_input: the zero-inserted, "
                                                                   "padded input the gather reading slides over")
    layer: ResolvedTransposed
    output_shape: list[int]
    output: EncodedArray
    weight: EncodedArray
    bias: Optional[list[float]]
    cost: TransposedCost
    formulas: TransposedFormulas
    region: Optional[list[int]] = Field(None, description="with region_size: [row, col] of the busiest region")
    engine_ms: float


class Stamps(BaseModel):
    """Scatter: every input pixel whose stamp covers the output position, one entry per list index."""
    channels: list[int]
    rows: list[int]
    cols: list[int]
    tap_rows: list[int]
    tap_cols: list[int]
    origin_rows: list[int] = Field(description="output row where the stamp's tap (0, 0) lands: row·s − p")
    origin_cols: list[int]
    values: list[float]
    weights: list[float]
    products: list[float]


class Gather(BaseModel):
    """Gather: the stride-1 window over the zero-inserted, padded input, kernel rotated 180°."""
    z_rows: list[int]
    z_cols: list[int]
    source_rows: list[int] = Field(description="input row each window row shows; −1: an inserted zero or padding")
    source_cols: list[int]
    windows: list[list[list[float]]]
    rotated_weights: list[list[list[float]]]
    products: list[list[list[float]]]
    partial_sums: list[float]


class TransposedTraceItem(BaseModel):
    channel: int
    row: int
    col: int
    group: int
    weight_out_index: int = Field(description="each input channel c stamps its kernel w[c, weight_out_index] here")
    input_channels: list[int]
    stamps: Stamps
    scatter_sum: float
    gather: Gather
    gather_sum: float
    bias: float
    value: float
    engine_value: float = Field(description="the engine's output at this position, for the check")


class TransposedTraceResponse(BaseModel):
    input: InputInfo
    layer: ResolvedTransposed
    output_shape: list[int]
    traces: list[TransposedTraceItem]
    region: Optional[Region] = Field(None, description="with spot: the square traced, inside the output")


class TransposedViewRequest(TransposedRequest):
    """What a page sends on a control change: /api/transposed's request and, optionally, a square to trace."""
    trace: Optional[TransposedSpot] = Field(None, description="also trace this square in both readings, as "
                                                              "/api/transposed/trace")

    model_config = ConfigDict(extra="forbid", json_schema_extra={"examples": [
        {"input": {"kind": "sample", "name": "edges"}, "layer": {"stride": 2}, "weights": {"kind": "upsample"},
         "include_input": True, "region_size": 6, "trace": {"channel": 0, "size": 6}},
    ]})


class TransposedTraceAnswer(BaseModel):
    region: Region = Field(description="the square traced, inside the output: rows [row_start, row_stop) × "
                                       "cols [col_start, col_stop) of output channel `channel`")
    traces: list[TransposedTraceItem] = Field(description="its positions in row-major order, as /api/transposed/trace")


class TransposedViewResponse(BaseModel):
    check: TransposedCheckResponse = Field(description="as /api/transposed/check; when not valid, nothing else is sent")
    tconv: Optional[TransposedResponse] = Field(None, description="as /api/transposed, for a valid layer")
    trace: Optional[TransposedTraceAnswer] = Field(None, description="with `trace`: the square's traces")


TransposedCheckResponse.model_rebuild()
