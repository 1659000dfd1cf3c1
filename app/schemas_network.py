"""Request and response models of the networks API (/api/models), validated before anything runs."""
from __future__ import annotations

from typing import Annotated, Literal, Optional, Union

from pydantic import BaseModel, ConfigDict, Field, StrictFloat, StrictInt

from app.schemas import EncodedArray, InputInfo, Int, Pos, RandomInput, SampleInput, Strict, UploadInput


class DrawingInput(Strict):
    """A drawing from the page's pad, row by row, ink = 1 and paper = 0. For the digits model it becomes an
    8×8 digit of 0..16 (block means), as the dataset was made (app/models/digits.py)."""
    kind: Literal["drawing"] = "drawing"
    size: Annotated[StrictInt, Field(ge=8, le=256, multiple_of=8, description="side of the square grid")] = 32
    values: list[Union[StrictFloat, StrictInt]] = Field(max_length=256 * 256, description="size·size grey levels in [0, 1]")


class TestImageInput(Strict):
    """One of the built-in model's held-out test images (never seen in training)."""
    kind: Literal["test_image"] = "test_image"
    index: Int = 0


class ImageInput(Strict):
    """A photo or drawing uploaded with POST /api/inputs (PNG, JPEG, … within its limits), turned by the server
    into the model's input (app/models/image_input.py): for the digits model the dataset's 8×8 format
    (greyscale, ink bright, the digit's box fitted, 0..16, ×4), for other models greyscale or RGB fitted to
    its H×W with values in [0, 1]."""
    kind: Literal["image"] = "image"
    id: str = Field(pattern=r"^[0-9a-f]{64}$", description="the id POST /api/inputs returned for the image")
    invert: Optional[bool] = Field(None, description="digits model: true for dark ink on light paper; null "
                                                     "decides from the image's border (the paper)")


ModelInput = Annotated[Union[TestImageInput, DrawingInput, ImageInput, SampleInput, RandomInput, UploadInput],
                       Field(discriminator="kind")]


class RunRequest(Strict):
    input: ModelInput = TestImageInput()
    size: Optional[Annotated[list[Pos], Field(min_length=2, max_length=2)]] = Field(
        None, description="[H, W] for a model whose input size is dynamic; static models ignore it")
    preview_channels: Annotated[StrictInt, Field(ge=0, le=64)] = Field(
        16, description="how many channels of each activation to return as small pictures (≤ 32×32 each)")
    encoding: Literal["base64", "binary"] = "base64"

    model_config = ConfigDict(extra="forbid", json_schema_extra={"examples": [
        {"input": {"kind": "test_image", "index": 3}},
        {"input": {"kind": "random", "shape": [3, 224, 224], "seed": 0}, "preview_channels": 4},
        {"input": {"kind": "image", "id": "0" * 64}},
    ]})


class ActivationRequest(Strict):
    input: ModelInput = TestImageInput()
    size: Optional[Annotated[list[Pos], Field(min_length=2, max_length=2)]] = None
    tensor: str = Field(max_length=512, description="a tensor name from GET /api/models/{id} (a layer's input or output)")
    encoding: Literal["base64", "binary", "npy"] = "binary"

    model_config = ConfigDict(extra="forbid", json_schema_extra={"examples": [
        {"input": {"kind": "test_image", "index": 0}, "tensor": "probabilities", "encoding": "base64"}]})


class ModelInfo(BaseModel):
    id: str = Field(description="a built-in name or the SHA-256 of the uploaded file")
    name: str
    builtin: bool
    size_bytes: int
    input_shape: list[Union[int, str]] = Field(description="declared [N, C, H, W]; a string names a dynamic axis")
    nodes: int
    params: int
    opset: int
    accuracy: Optional[float] = Field(None, description="built-in models: accuracy on their held-out test split")
    test_images: Optional[int] = None
    classes: Optional[list[str]] = None


class LayerRow(BaseModel):
    index: int
    name: str
    op: str
    inputs: list[str]
    output: str
    in_shape: Optional[list[int]]
    out_shape: list[int]
    kernel: Optional[list[int]] = None
    stride: Optional[list[int]] = None
    groups: Optional[int] = None
    is_1x1: bool
    bn_folded: bool
    params: int
    macs: int
    bytes_read: int
    bytes_written: int
    macs_per_byte: float


class OpShare(BaseModel):
    op: str
    layers: int
    params: int
    macs: int


class Totals(BaseModel):
    params: int
    macs: int
    flops: int = Field(description="2·MACs")
    bytes_moved: int
    pointwise_params: int = Field(description="params of 1×1 convolutions")
    pointwise_macs: int
    pointwise_params_share: float
    pointwise_macs_share: float


class ModelDetail(BaseModel):
    model: ModelInfo
    input_shape: list[int] = Field(description="the [1, C, H, W] this table is for")
    layers: list[LayerRow]
    totals: Totals
    by_op: list[OpShare]


class Prediction(BaseModel):
    kind: Literal["probabilities", "scores"] = Field(description="probabilities when the model ends in a softmax")
    classes: list[str]
    values: list[float]
    top: int


class LayerRun(BaseModel):
    index: int
    name: str
    op: str
    output: str
    shape: list[int]
    min: float
    max: float
    mean: float
    time_ms: float
    time_share: float
    macs: int = Field(0, description="from the cost table")
    macs_per_byte: float = Field(0.0, description="arithmetic intensity: MACs over bytes read and written")
    macs_per_s: Optional[float] = Field(None, description="measured: MACs over this run's time (null for no MACs)")
    bound: Optional[Literal["memory", "compute"]] = Field(
        None, description="memory below the roofline's ridge point (MACs per byte), compute at or above it")
    preview: Optional[EncodedArray] = Field(None, description="the first channels, each at most 32×32 (strided)")


class RooflineInfo(BaseModel):
    """This server's roofline, measured once per process (app/engine/roofline.py): what a layer of a given
    arithmetic intensity can reach at best, min(peak, bandwidth · MACs per byte)."""
    peak_macs_per_s: float = Field(description="float32 GEMM, best of short runs of (gemm_n × gemm_n)²")
    bandwidth_bytes_per_s: float = Field(description="an array copy of copy_bytes, bytes read + written, best of runs")
    ridge_macs_per_byte: float = Field(description="peak / bandwidth: where the two roofs meet")
    gemm_n: int
    copy_bytes: int
    threads: int = Field(description="BLAS threads the engine uses")
    gemm_threads: int = Field(description="the peak is the faster GEMM on 1 thread or on all of them: which one")
    curve: list[list[float]] = Field(description="the roof to draw: [MACs per byte, attainable MACs/s] at this "
                                                 "run's lowest intensity ÷ 2, the ridge, and its highest × 2")


class RunResponse(BaseModel):
    model: str
    input: InputInfo = Field(description="the model's input tensor, stored: its id names it in activation inputs")
    input_shape: list[int]
    input_preview: Optional[EncodedArray] = Field(None, description="the model input itself (first 3 channels, "
                                                                    "at most 32×32): what the model sees")
    prediction: Optional[Prediction]
    label: Optional[str] = Field(None, description="a held-out test image's true class (its dataset label), so the "
                                                   "prediction can be judged; null for every other input")
    layers: list[LayerRun]
    total_ms: float
    roofline: Optional[RooflineInfo] = None
    pointwise_time_share: float = Field(description="share of the measured time spent in 1×1 convolutions")


class LayerRequest(Strict):
    input: ModelInput = TestImageInput()
    size: Optional[Annotated[list[Pos], Field(min_length=2, max_length=2)]] = None
    layer: str = Field(max_length=512, description="a Conv layer's name from GET /api/models/{id}")

    model_config = ConfigDict(extra="forbid", json_schema_extra={"examples": [
        {"input": {"kind": "test_image", "index": 0}, "layer": "/mix/mix.0/Conv"}]})


class LayerView(BaseModel):
    """What /conv and /pointwise need to show one real layer: the activation it reads (stored, so it is
    an ordinary uploaded input by id) and its weights (BN folded where marked)."""
    input: InputInfo = Field(description="the layer's input activation for this model input, stored")
    layer: dict = Field(description="the layer for /api/convolve: out_channels, kernel_size, stride, padding, "
                                    "dilation, groups, bias")
    weight: list = Field(description="[C_out][C_in/groups][kH][kW], the values the engine multiplies by")
    bias: Optional[list[float]]
    bn_folded: bool
    is_1x1: bool


class ConvLayerInfo(BaseModel):
    """What a page needs to name a model's Conv layer (the "layer" weights kind) without running anything."""
    model: str
    model_name: str
    layer: str
    weight_shape: list[int] = Field(description="[C_out, C_in/groups, kH, kW]")
    has_bias: bool
    bn_folded: bool = Field(description="a BatchNormalization after it was folded into these weights")
    is_1x1: bool
    label: str = Field(description='how the pages name it: "layer L of M", with "(BN folded)" where that applies',
                       examples=["layer /mix/mix.0/Conv of Digits (BN folded)"])
