"""POST /api/convolve and POST /api/trace."""
from __future__ import annotations

from dataclasses import asdict

from fastapi import APIRouter, Depends, Response
from fastapi.responses import JSONResponse

from app.api.deps import settings_of, store_of
from app.compute import (PreparedLayer, check_convolve, groups_choices, plan_layer, prepare_layer, run_layer,
                         trace_many)
from app.api.chunked import ChunkedResponse
from app.encoding import FRAME_MEDIA_TYPE, Frame, encode_array, json_bytes, npy_chunks, to_png
from app.engine.cost import ConvCost
from app.engine.explain import connectivity, explain
from app.engine.region import busiest_region
from app.engine.views import preview_step
from app.engine.errors import GeometryError
from app.errors import check_limit
from app.errors import ConvlensError, NotFound
from app.inputs.resolve import input_shape, resolve_input
from app.inputs.store import InputStore
from app.schemas import (ERROR_RESPONSES, CheckError, ConvolveRequest, ConvolveResponse, Cost, Formulas,
                         LayerCheckRequest, LayerCheckResponse, Region, ResolvedLayer, TraceRequest)
from app.settings import Settings

router = APIRouter(prefix="/api", tags=["convolution"], responses=ERROR_RESPONSES)


def resolved_layer(g, has_bias: bool, flip: bool, relu: bool) -> ResolvedLayer:
    return ResolvedLayer(in_channels=g.in_channels, out_channels=g.out_channels, kernel_size=list(g.kernel),
                         stride=list(g.stride), padding=[list(g.pad_h), list(g.pad_w)],
                         dilation=list(g.dilation), groups=g.groups, bias=has_bias, flip=flip,
                         activation="relu" if relu else "none")


def _resolved(p: PreparedLayer) -> ResolvedLayer:
    return resolved_layer(p.geometry, p.bias is not None, p.flip, p.relu)


def cost_model(c: ConvCost) -> Cost:
    return Cost(params=c.params, params_without_bias=c.params_without_bias, macs=c.macs, flops=c.flops,
                bias_adds=c.bias_adds, bytes_input=c.bytes_input, bytes_weights=c.bytes_weights,
                bytes_output=c.bytes_output)


@router.post("/layer/check", response_model=LayerCheckResponse, summary="Check a layer without running it")
def check_layer(req: LayerCheckRequest, s: Settings = Depends(settings_of), store: InputStore = Depends(store_of)):
    """Output shape, cost, the formulas with this layer's numbers, and which input channels feed each
    output channel. An invalid layer is a valid answer here: ``valid: false`` with the error /api/convolve
    would give. Nothing is allocated, so a page can call it on every control change."""
    shape = None
    try:
        shape, info = input_shape(req.input, store, s)
        plan = plan_layer(shape, req.layer, req.weights, s)
    except ConvlensError as exc:
        return LayerCheckResponse(valid=False, error=CheckError(code=exc.code, message=exc.message,
                                                                 status=exc.status_code),
                                  allowed_groups=shape and groups_choices(shape, req.layer, req.weights, s))
    except GeometryError as exc:
        return LayerCheckResponse(valid=False, error=CheckError(code="invalid_layer", message=str(exc), status=422),
                                  allowed_groups=shape and groups_choices(shape, req.layer, req.weights, s))
    g = plan.geometry
    return LayerCheckResponse(valid=True, input=info, layer=resolved_layer(g, plan.has_bias, req.layer.flip,
                                                               req.layer.activation == "relu"),
                              output_shape=list(g.output_shape), cost=cost_model(plan.cost),
                              formulas=Formulas(**explain(g, plan.has_bias)), connectivity=connectivity(g),
                              allowed_groups=groups_choices(shape, req.layer, req.weights, s))


@router.post("/convolve", response_model=ConvolveResponse, summary="Run one convolution layer",
             responses={200: {"content": {FRAME_MEDIA_TYPE: {}, "application/x-npy": {}, "image/png": {}},
                              "description": "JSON; with encoding=binary the same response as a binary frame; "
                                             "with encoding=npy the output alone as an .npy body; with "
                                             "encoding=png one output channel as a picture"}})
def convolve(req: ConvolveRequest, s: Settings = Depends(settings_of), store: InputStore = Depends(store_of)):
    """Input (sample, random or upload) → layer → every output channel, the weights used, and the cost.

    Arrays are base64 little-endian float32 in row-major order with their shape and per-channel min/max
    (``encoding="base64"``, the default), nested JSON lists (``"list"``), raw bytes after a JSON header
    (``"binary"``, an ``application/x-convlens-frame`` body: a little-endian uint32 N, N bytes of JSON,
    then each array at its ``offset`` from there, 8-byte aligned), or, with ``"npy"``, the output tensor
    alone as an ``application/x-npy`` body. The same request always gives the same numbers.
    """
    check_convolve(input_shape(req.input, store, s)[0], req.layer, req.weights, req.encoding, req.include_input, s)
    x, info = resolve_input(req.input, store, s)
    layer = prepare_layer(x.shape, req.layer, req.weights, s)
    result = run_layer(x, layer, s)
    headers = {"X-Engine-Ms": f"{result.engine_ms:.3f}"}
    if req.encoding == "npy":
        return ChunkedResponse(npy_chunks(result.output), "application/x-npy", headers)
    if req.encoding == "png":
        if req.channel >= result.output.shape[0]:
            raise NotFound(f"output channel {req.channel} does not exist; the output has channels "
                           f"0..{result.output.shape[0] - 1}")
        return Response(to_png(result.output, req.channel), media_type="image/png", headers=headers)
    frame = Frame() if req.encoding == "binary" else None
    region = None if req.region_size is None else Region(
        channel=0, **asdict(busiest_region(x, layer.geometry, req.region_size)))
    g = layer.geometry
    step = 1 if req.preview_size is None else preview_step(g.out_height, g.out_width, req.preview_size)
    response = ConvolveResponse(
        input=info, input_array=encode_array(x, req.encoding, frame) if req.include_input else None,
        layer=_resolved(layer), output_shape=list(result.output.shape),
        output=encode_array(result.output[:, ::step, ::step], req.encoding, frame), output_step=step,
        weight=encode_array(layer.weight, req.encoding, frame),
        bias=None if layer.bias is None else layer.bias.tolist(), cost=cost_model(layer.cost),
        engine_ms=result.engine_ms, region=region)
    # The model above is the contract (and the OpenAPI schema); the bytes are assembled without
    # re-scanning megabytes of base64 (see json_bytes) or copying the arrays (see Frame).
    if frame is not None:
        return ChunkedResponse(frame.chunks(response.model_dump_json().encode()), FRAME_MEDIA_TYPE, headers)
    body = response.model_dump_json() if req.encoding == "list" else json_bytes(response.model_dump())
    return Response(body, media_type="application/json", headers=headers)


def _positions(req: TraceRequest, layer: PreparedLayer, s: Settings) -> list[tuple[int, int, int]]:
    pos = [(p.channel, p.row, p.col) for p in req.positions]
    if req.region is not None:
        r = req.region
        g = layer.geometry
        if not (r.row_start < r.row_stop <= g.out_height and r.col_start < r.col_stop <= g.out_width):
            raise GeometryError(f"region rows [{r.row_start}, {r.row_stop}) × cols [{r.col_start}, {r.col_stop}) "
                                f"must be non-empty and inside the output {g.out_height}×{g.out_width}")
        check_limit("trace positions", len(pos) + (r.row_stop - r.row_start) * (r.col_stop - r.col_start),
                    s.max_trace_positions, "max_trace_positions")
        pos += [(r.channel, i, j) for i in range(r.row_start, r.row_stop) for j in range(r.col_start, r.col_stop)]
    if not pos:
        raise GeometryError("give at least one output position (positions or region)")
    check_limit("trace positions", len(pos), s.max_trace_positions, "max_trace_positions")
    g = layer.geometry
    check_limit("trace values (positions × C_in/groups·kH·kW)",
                len(pos) * g.in_per_group * g.kernel[0] * g.kernel[1], s.max_trace_values, "max_trace_values")
    return pos


@router.post("/trace", summary="The computation behind output values, term by term")
def trace(req: TraceRequest, s: Settings = Depends(settings_of), store: InputStore = Depends(store_of)):
    """For each requested output position: the input window it reads (rows and columns in input
    coordinates; outside [0, H) is padding), each input channel's window, the weights as applied (flipped
    when ``flip``), the element-wise products, each channel's partial sum, the bias, the total before the
    activation and the value. Its ``value`` equals /api/convolve's output at that position."""
    x, info = resolve_input(req.input, store, s)
    layer = prepare_layer(x.shape, req.layer, req.weights, s)
    traces = trace_many(x, layer, _positions(req, layer, s))
    # A JSONResponse straight from json.dumps: FastAPI's generic encoder walks every number and is ~10× slower.
    return JSONResponse({
        "input": info.model_dump(), "layer": _resolved(layer).model_dump(),
        "output_shape": list(layer.geometry.output_shape),
        "traces": [{
            "channel": t.out_channel, "row": t.row, "col": t.col, "group": t.group,
            "input_channels": list(t.input_channels), "input_rows": list(t.input_rows),
            "input_cols": list(t.input_cols), "is_padding": t.is_padding.tolist(),
            "windows": t.windows.tolist(), "weights": t.weights.tolist(), "products": t.products.tolist(),
            "partial_sums": t.partial_sums.tolist(), "bias": t.bias, "pre_activation": t.pre_activation,
            "value": t.value} for t in traces],
    })
