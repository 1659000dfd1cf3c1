"""POST /api/convolve/view: a page's one request per control change (the check, the run, a trace)."""
from __future__ import annotations

from typing import Annotated, Any, Literal, Optional

from pydantic import BaseModel, ConfigDict, Field, StrictBool, StrictInt

from app.schemas import (ConvolveResponse, InputSpec, Int, LayerCheckResponse, LayerSpec, RandomWeights, Region,
                         SampleInput, Strict, WeightSpec)


class TraceSpot(Strict):
    """Which outputs to trace with the run, placed on the output this layer gives (which the page does
    not know yet when a control changes the layer)."""
    channel: Int = Field(0, description="output channel; past the last, the last")
    row: Optional[Int] = Field(None, description="the region's top row; moved up to fit inside the output. "
                                                 "row and col omitted: the region with the most input detail")
    col: Optional[Int] = Field(None, description="the region's left column, moved left to fit")
    size: Annotated[StrictInt, Field(ge=1, le=64)] = Field(12, description="size×size outputs, cut to the output")
    upto: Optional[Int] = Field(None, description="trace the region's positions 0…upto in row-major order and its "
                                                  "last one (they bound its receptive field); omitted: every position")
    all_channels: StrictBool = Field(False, description="trace every output channel at each position, not only "
                                                        "`channel` (what one pixel's output vector is made of)")


class ViewRequest(Strict):
    input: InputSpec = SampleInput()
    layer: LayerSpec = LayerSpec()
    weights: WeightSpec = RandomWeights()
    encoding: Literal["base64", "binary", "list"] = Field("base64", description="as /api/convolve")
    include_input: StrictBool = Field(False, description="as /api/convolve")
    region_size: Optional[Annotated[StrictInt, Field(ge=1, le=64)]] = Field(None, description="as /api/convolve")
    preview_size: Optional[Annotated[StrictInt, Field(ge=16, le=8192)]] = Field(None, description="as /api/convolve")
    trace: Optional[TraceSpot] = Field(None, description="also trace these outputs, term by term, as /api/trace")

    model_config = ConfigDict(extra="forbid", json_schema_extra={"examples": [
        {"input": {"kind": "sample", "name": "colour"}, "layer": {"kernel_size": 5, "padding": 1},
         "trace": {"channel": 0, "row": 30, "col": 40, "size": 12, "upto": 0}},
    ]})


class TraceAnswer(BaseModel):
    region: Region = Field(description="the region traced, inside the output")
    traces: list[dict[str, Any]] = Field(description="each traced position's computation, as /api/trace's `traces`")


class ViewResponse(BaseModel):
    check: LayerCheckResponse = Field(description="as /api/layer/check; when not valid, nothing else is sent")
    conv: Optional[ConvolveResponse] = Field(None, description="as /api/convolve, for a valid layer")
    trace: Optional[TraceAnswer] = None
