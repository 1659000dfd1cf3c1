"""Request and response models of POST /api/receptive (issue 15 §2)."""
from __future__ import annotations

from typing import Annotated, Literal, Optional

from pydantic import BaseModel, Field, StrictBool

from app.schemas import EncodedArray, InputInfo, InputSpec, Int, SampleInput, Strict
from app.schemas_cost import DesignSpec

NETWORKS = ("googlenet", "resnet50", "mobilenet", "squeezenet")


class OutputPosition(Strict):
    layer: Int = Field(description="index into the response's rows")
    row: Int = 0
    col: Int = 0


class ReceptiveRequest(Strict):
    input: InputSpec = SampleInput(name="colour")
    network: Literal["googlenet", "resnet50", "mobilenet", "squeezenet"] = Field(
        "googlenet", description="a paper architecture, run on the input's H×W (ignored when design is given)")
    design: Optional[DesignSpec] = Field(None, description="your own stack, as the cost lab takes it")
    model: Optional[str] = Field(None, pattern=r"^([a-z0-9_]{1,32}|[0-9a-f]{64})$",
                                 description='a model of /api/models ("digits" or an uploaded id); wins over '
                                             "design and network. Its fields are in its own input's coordinates")
    point: Optional[Annotated[list[Int], Field(min_length=2, max_length=2)]] = Field(
        None, description="[row, col] of the input to follow through the layers; default: the input's centre")
    position: Optional[OutputPosition] = Field(None, description="an output position of one layer: follow the "
                                                                 "centre of its field instead of point")
    include_input: StrictBool = False
    encoding: Literal["base64", "list"] = "base64"


class AxisField(BaseModel):
    size_min: int = Field(description="receptive field size, smallest over paths")
    size_max: int
    jump_min: int = Field(description="input pixels between neighbouring outputs (effective stride)")
    jump_max: int
    start: int = Field(description="input coordinate of output 0's first pixel (negative: in the padding)")
    paths: int = Field(description="distinct (size, jump, start) over the paths through Concat/Add")


class FieldLayer(BaseModel):
    name: str
    kind: str
    depth: int
    out_shape: list[int]
    whole_input: bool
    h: AxisField
    w: AxisField
    grows: bool = Field(description="false when this layer leaves its input's field as it was (a 1×1 "
                                    "convolution with stride 1, ReLU)")
    position: list[int] = Field(description="[row, col]: the output whose field is centred nearest the point")
    box: list[int] = Field(description="[top, left, bottom, right] of its field, inclusive, before clipping")
    inside: Optional[list[int]] = Field(description="the same box clipped to the input; null when all padding")
    box_before: list[int] = Field(description="the field at this layer's input nearest the point (drawn dashed)")


class ReceptiveResponse(BaseModel):
    input: InputInfo
    input_array: Optional[EncodedArray] = None
    network: str
    grid: list[int] = Field(description="[H, W] the boxes are measured in: the input's, or a model's own input")
    point: list[float]
    rows: list[FieldLayer]
    stopped: Optional[str] = Field(None, description="why the walk ended early (a layer that does not fit)")
