"""Request and response models: the API's contract, validated before anything is computed.

Numbers are strict integers where the engine needs integers ("3.5" or 3.5 is refused, not rounded).
Upper bounds here only stop absurd values early; the real limits live in settings and are checked,
with a message naming them, before any allocation.
"""
from __future__ import annotations

from typing import Annotated, Literal, Optional, Union

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, StrictBool, StrictFloat, StrictInt


def _whole(v):
    """2.0 → 2: JSON has one number type and many clients write integers as floats; 2.5 is still refused."""
    return int(v) if isinstance(v, float) and v.is_integer() else v


def default_kind(kind: str) -> BeforeValidator:
    """A union member chosen by "kind", where an object without "kind" means the default member (the
    schema gives kind a default, and {"seed": 1} must be the random weights it describes)."""
    return BeforeValidator(lambda v: {"kind": kind, **v} if isinstance(v, dict) and "kind" not in v else v)


def kind_union(default: str) -> tuple:
    """The metadata of a union chosen by "kind" whose default member may omit it (see default_kind). The
    published schema says exactly that: a plain oneOf (an OpenAPI discriminator would make "kind"
    required everywhere, and schemathesis rightly flagged {"input": {}} as accepted against it), where
    every member but the default lists "kind" as required (KIND_REQUIRED)."""
    return (Field(discriminator="kind", json_schema_extra=lambda schema: schema.pop("discriminator", None)),
            default_kind(default))


def _kind_required(schema: dict) -> None:
    schema["required"] = ["kind", *(r for r in schema.get("required", []) if r != "kind")]


KIND_REQUIRED = ConfigDict(extra="forbid", json_schema_extra=_kind_required)  # a non-default union member


WholeInt = Annotated[StrictInt, BeforeValidator(_whole)]  # an integer, also when written as 2.0
Int = Annotated[WholeInt, Field(ge=0, le=2**31 - 1)]
Pos = Annotated[WholeInt, Field(ge=1, le=2**31 - 1)]
Num = Union[StrictInt, StrictFloat]
PairOrInt = Union[Pos, Annotated[list[Pos], Field(min_length=2, max_length=2)]]
PaddingArg = Union[Int, Annotated[list[Int], Field(min_length=2, max_length=2)], Literal["same", "valid"]]


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class SampleInput(Strict):
    kind: Literal["sample"] = "sample"
    name: str = Field("colour", max_length=64, description="see GET /api/samples")


class RandomInput(Strict):
    model_config = KIND_REQUIRED
    kind: Literal["random"] = "random"
    shape: Annotated[list[Pos], Field(min_length=3, max_length=3, description="[C, H, W]")] = [8, 16, 16]
    distribution: Literal["normal", "uniform"] = "normal"
    seed: Int = 0


class UploadInput(Strict):
    model_config = KIND_REQUIRED
    kind: Literal["upload"] = "upload"
    id: str = Field(pattern=r"^[0-9a-f]{64}$", description="the id POST /api/inputs returned")


class ActivationInput(Strict):
    """What a layer of a model reads (issue 13): the activation that the model input ``input`` gives at the
    input of layer ``layer``, computed by the NumPy engine."""
    model_config = KIND_REQUIRED
    kind: Literal["activation"] = "activation"
    model: str = Field(max_length=64, description='"digits" or an uploaded model\'s id')
    layer: str = Field(max_length=512, description="a layer's name from GET /api/models/{id}")
    input: str = Field(pattern=r"^[0-9a-f]{64}$", description="the model input's id, as POST /api/models/{id}/run "
                                                              "returns it")


InputSpec = Annotated[Union[SampleInput, RandomInput, UploadInput, ActivationInput], *kind_union("sample")]


class LayerSpec(Strict):
    """Omitted fields come from the weights: a preset or custom weights fix out_channels and kernel_size."""
    out_channels: Optional[Pos] = None
    kernel_size: Optional[PairOrInt] = None
    stride: PairOrInt = 1
    padding: PaddingArg = 0
    dilation: PairOrInt = 1
    groups: Optional[Pos] = None
    bias: Optional[StrictBool] = Field(None, description="default: on for random weights, the preset's own otherwise")
    flip: StrictBool = Field(False, description="true: rotate the kernel 180° (textbook convolution); "
                                                "false: cross-correlation, as PyTorch")
    activation: Literal["none", "relu"] = "none"


class RandomWeights(Strict):
    kind: Literal["random"] = "random"
    seed: Int = 0


class PresetWeights(Strict):
    model_config = KIND_REQUIRED
    kind: Literal["preset"] = "preset"
    name: str = Field(max_length=64, description="see GET /api/presets")
    mode: Literal["depthwise", "per_channel"] = Field(
        "depthwise", description="k×k presets only: groups=C_in, or one dense layer that is zero off the diagonal")


class CustomWeights(Strict):
    model_config = KIND_REQUIRED
    kind: Literal["custom"] = "custom"
    weight: Annotated[list[Annotated[list[Annotated[list[Annotated[list[Num], Field(max_length=64)]],
                                                    Field(max_length=64)]], Field(max_length=4096)]],
                      Field(max_length=4096, description="[C_out][C_in/groups][kH][kW]")]
    bias: Optional[Annotated[list[Num], Field(max_length=4096)]] = None


class LayerWeights(Strict):
    """A convolution layer of a model from /api/models (issue 13): its real weights, BN folded where it had one."""
    model_config = KIND_REQUIRED
    kind: Literal["layer"] = "layer"
    model: str = Field(max_length=64, description='"digits" or an uploaded model\'s id')
    layer: str = Field(max_length=512, description="a Conv layer's name from GET /api/models/{id}")


WeightSpec = Annotated[Union[RandomWeights, PresetWeights, CustomWeights, LayerWeights], *kind_union("random")]
Encoding = Literal["base64", "binary", "list", "npy", "png"]


class ConvolveRequest(Strict):
    input: InputSpec = SampleInput()
    layer: LayerSpec = LayerSpec()
    weights: WeightSpec = RandomWeights()
    encoding: Encoding = Field("base64", description="base64: little-endian float32, row-major; binary: the same "
                                                      "response as one binary frame (application/x-convlens-frame: "
                                                      "a JSON header, then the raw arrays; no base64 to encode or "
                                                      "decode); list: nested JSON lists; npy: the output alone as an "
                                                      ".npy body; png: one output channel as a picture (min→max "
                                                      "stretched)")
    channel: Int = Field(0, description="with encoding=png: which output channel")
    include_input: StrictBool = Field(False, description="also return the input tensor (for drawing it)")
    region_size: Optional[Annotated[StrictInt, Field(ge=1, le=64)]] = Field(
        None, description="also return `region`: the size×size output region (cut to the output) whose "
                          "receptive field has the most input detail (variance), where a page starts its animation")
    preview_size: Optional[Annotated[StrictInt, Field(ge=16, le=8192)]] = Field(
        None, description="send `output` at every s-th row and column, s = ⌈max(H_out, W_out) / preview_size⌉ "
                          "(`output_step`), for drawing a large output; the values sent are exact, their "
                          "channel_min/max are those of the values sent; output_shape stays the full shape")

    model_config = ConfigDict(extra="forbid", json_schema_extra={"examples": [
        {"input": {"kind": "sample", "name": "edges"}, "layer": {"padding": 1},
         "weights": {"kind": "preset", "name": "sobel_x"}},
        {"input": {"kind": "random", "shape": [64, 28, 28], "seed": 1},
         "layer": {"out_channels": 16, "kernel_size": 1}, "weights": {"kind": "random", "seed": 0}},
    ]})


class Position(Strict):
    channel: Int = 0
    row: Int = 0
    col: Int = 0


class Region(Strict):
    """Output rows [row_start, row_stop) × cols [col_start, col_stop) of one output channel."""
    channel: Int = 0
    row_start: Int = 0
    row_stop: Int = 1
    col_start: Int = 0
    col_stop: Int = 1


class TraceRequest(Strict):
    input: InputSpec = SampleInput()
    layer: LayerSpec = LayerSpec()
    weights: WeightSpec = RandomWeights()
    positions: list[Position] = Field(default_factory=list, max_length=100_000)
    region: Optional[Region] = None

    model_config = ConfigDict(extra="forbid", json_schema_extra={"examples": [
        {"input": {"kind": "sample", "name": "edges"}, "layer": {"padding": 1},
         "weights": {"kind": "preset", "name": "sobel_x"}, "positions": [{"channel": 0, "row": 20, "col": 10}]},
    ]})


class EncodedArray(BaseModel):
    shape: list[int]
    dtype: str = "float32"
    encoding: Literal["base64", "list", "binary"]
    data: Union[str, list, None] = Field(description="base64 text or nested lists; null in a binary frame")
    offset: Optional[int] = Field(None, description="binary frame only: where the array starts, in bytes "
                                                    "from the start of the frame's data section")
    nbytes: Optional[int] = Field(None, description="binary frame only: the array's length in bytes")
    channel_min: list[float]
    channel_max: list[float]


class Cost(BaseModel):
    params: int
    params_without_bias: int
    macs: int
    flops: int = Field(description="2·MACs; bias adds are counted separately")
    bias_adds: int
    bytes_input: int
    bytes_weights: int
    bytes_output: int


class ResolvedLayer(BaseModel):
    in_channels: int
    out_channels: int
    kernel_size: list[int]
    stride: list[int]
    padding: list[list[int]] = Field(description="[[top, bottom], [left, right]]")
    dilation: list[int]
    groups: int
    bias: bool
    flip: bool
    activation: str


class InputInfo(BaseModel):
    id: Optional[str] = None
    shape: list[int]
    source: str


class LayerCheckRequest(Strict):
    input: InputSpec = SampleInput()
    layer: LayerSpec = LayerSpec()
    weights: WeightSpec = RandomWeights()


class PointwiseFormulas(BaseModel):
    """A plain 1×1 layer's formulas (the 1×1 page's "show your work")."""
    params: str
    macs: str
    torch: str
    numpy: str
    reads: int = Field(description="input values one output value reads: C_in")
    reads_3x3: int = Field(description="what a 3×3 with the same channels would read: 9·C_in")


class Formulas(BaseModel):
    out_height: str
    out_width: str
    params: str
    macs: str
    flops: str
    torch: str
    pointwise: Optional[PointwiseFormulas] = Field(None, description="only for a 1×1 layer with groups 1")


class CheckError(BaseModel):
    code: str
    message: str
    status: int = Field(description="the status /api/convolve would answer this layer with")


class LayerCheckResponse(BaseModel):
    valid: bool
    error: Optional[CheckError] = None
    input: Optional[InputInfo] = None
    layer: Optional[ResolvedLayer] = None
    output_shape: Optional[list[int]] = None
    cost: Optional[Cost] = None
    formulas: Optional[Formulas] = None
    connectivity: Optional[list[list[int]]] = Field(None, description="for each output channel, the input "
                                                                      "channels it reads")
    allowed_groups: Optional[list[int]] = Field(None, description="the groups values this layer accepts on this "
                                                                  "input, the rest as asked (also when invalid)")


class ConvolveResponse(BaseModel):
    input: InputInfo
    input_array: Optional[EncodedArray] = None
    layer: ResolvedLayer
    output_shape: list[int]
    output: EncodedArray
    weight: EncodedArray
    bias: Optional[list[float]]
    cost: Cost
    engine_ms: float = Field(description="time of the engine alone (convolution, bias, activation)")
    region: Optional[Region] = Field(None, description="with region_size: the output region (channel 0) whose "
                                                       "receptive field has the most input detail")
    output_step: int = Field(1, description="with preview_size: `output` holds every output_step-th row and column")


class ErrorDetail(BaseModel):
    code: str = Field(description="stable machine-readable code, e.g. limit_exceeded, invalid_layer")
    message: str = Field(description="what is wrong and what is allowed")
    limit: Optional[str] = Field(None, description="for a refused limit: the environment variable that sets it")
    details: Optional[list[dict]] = None


class ErrorResponse(BaseModel):
    error: ErrorDetail


ERROR_RESPONSES = {status: {"model": ErrorResponse, "description": text} for status, text in [
    (400, "malformed body"), (404, "unknown sample, input, preset or path"),
    (413, "over a configured limit; the message names it"), (422, "invalid request or layer"),
    (503, "busy: too many heavy computations at once; retry after Retry-After seconds")]}
