"""Requests and answers of the 1×1 page's endpoints (/api/pointwise/*): the matrix view, C-vs-H,W
reduction, NiN stacks and FC ≡ conv."""
from __future__ import annotations

from typing import Annotated, Literal, Optional

from pydantic import BaseModel, Field, StrictBool

from app.schemas import EncodedArray, InputSpec, LayerSpec, RandomWeights, SampleInput, Strict, WeightSpec, WholeInt

Small = Annotated[WholeInt, Field(ge=1, le=256)]


class MatmulRequest(Strict):
    input: InputSpec = SampleInput()
    layer: LayerSpec = LayerSpec(kernel_size=1)
    weights: WeightSpec = RandomWeights()
    encoding: Literal["base64", "binary"] = Field("base64", description="binary: the same answer as a binary frame "
                                                  "(see /api/convolve); X and Y have H·W rows, megabytes on a photo")
    row_step: Annotated[WholeInt, Field(ge=1, le=2**31 - 1)] = Field(
        1, description="send every row_step-th row of X and Y (rows 0, s, 2s, …; exact values, their range is "
                       "that of the rows sent): a page drawing a photo's H·W rows as a few thousand asks for those "
                       "only. x_shape and y_shape stay the whole matrices' shapes; both checks cover every row")


class MatmulResponse(BaseModel):
    """The matrices' channel_min / channel_max hold one value each: the whole matrix's range."""
    x_shape: list[int] = Field(description="(H·W, C_in): one row per pixel")
    w_shape: list[int] = Field(description="(C_in, C_out): Wᵀ")
    y_shape: list[int] = Field(description="(H·W, C_out)")
    output_shape: list[int]
    max_abs_conv_vs_matmul: float
    max_abs_conv_vs_per_pixel: float
    row_step: int = Field(1, description="x_matrix and y_matrix hold rows 0, row_step, 2·row_step, …")
    x_matrix: EncodedArray
    w_matrix: EncodedArray
    y_matrix: EncodedArray


class ReduceRequest(Strict):
    input: InputSpec = SampleInput(name="random8")
    reduction: Small = Field(4, description="the 1×1 layer maps C → max(1, C // reduction)")
    pool: Small = Field(2, description="max-pool kernel and stride")
    seed: Annotated[WholeInt, Field(ge=0, le=2**31 - 1)] = 0
    include_output: StrictBool = Field(True, description="false: shapes and counts only (the page's cards)")


class Reduced(BaseModel):
    name: str
    output_shape: list[int]
    params: int
    work: int = Field(description="MACs for the convolution, comparisons for the pooling")
    output: Optional[EncodedArray] = None


class NinRequest(Strict):
    input: InputSpec = SampleInput()
    widths: Annotated[list[Small], Field(min_length=1, max_length=3,
                                         description="output channels of each 1×1 conv + ReLU layer")] = [8, 4]
    seed: Annotated[WholeInt, Field(ge=0, le=2**31 - 1)] = 0
    row: Annotated[WholeInt, Field(ge=0)] = 0
    col: Annotated[WholeInt, Field(ge=0)] = 0
    include_output: StrictBool = Field(True, description="false: the pixel's activations only, not the whole output")


class NinLayer(BaseModel):
    in_channels: int
    out_channels: int
    params: int
    macs: int
    weight: list[list[float]] = Field(description="(C_out, C_in)")
    bias: list[float]
    activation_at_pixel: list[float] = Field(description="this layer's output vector at (row, col), after ReLU")


class NinResponse(BaseModel):
    input_at_pixel: list[float]
    layers: list[NinLayer]
    output_shape: list[int]
    max_abs_conv_stack_vs_mlp: float
    output: Optional[EncodedArray] = None


class FcRequest(Strict):
    channels: Small = 8
    block: Annotated[WholeInt, Field(ge=1, le=16, description="k: the FC layer reads a k×k×C block")] = 7
    outputs: Small = 10
    size: Annotated[WholeInt, Field(ge=1, le=64, description="side of the larger input the conv slides over")] = 14
    seed: Annotated[WholeInt, Field(ge=0, le=2**31 - 1)] = 0


class FcResponse(BaseModel):
    fc_inputs: int = Field(description="C·k·k: the flattened block's length")
    fc_params: int
    inputs_formula: str
    params_formula: str
    conv_weight_shape: list[int]
    fc_scores: list[float]
    conv_scores: list[float]
    max_abs_block: float
    score_map_shape: list[int]
    max_abs_map: float
    score_map: EncodedArray
