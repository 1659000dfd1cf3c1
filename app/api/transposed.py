"""POST /api/transposed and POST /api/transposed/trace (issue 15)."""
from __future__ import annotations

from fastapi import APIRouter, Depends, Response

from app.api.chunked import ChunkedResponse
from app.api.convolve import cost_model
from app.api.deps import settings_of, store_of
from app.compute_transposed import (PreparedTransposed, plan_transposed, prepare_transposed, run_transposed,
                                    trace_transposed_many)
from app.encoding import FRAME_MEDIA_TYPE, Frame, encode_array, json_bytes
from app.engine.cost import zero_inserted_macs
from app.engine.errors import GeometryError
from app.engine.geometry import TransposedGeometry
from app.engine.transposed import busiest_output_region, gather_canvas, gather_canvas_shape
from app.engine.transposed_explain import explain_transposed
from app.errors import ConvlensError
from app.inputs.resolve import input_shape, resolve_input
from app.inputs.store import InputStore
from app.schemas import ERROR_RESPONSES, CheckError
from app.schemas_transposed import (Gather, TransposedCheckRequest, TransposedCheckResponse, ResolvedTransposed, Stamps, TransposedCost, TransposedFormulas,
                                    TransposedRequest, TransposedResponse, TransposedTraceItem,
                                    TransposedTraceRequest, TransposedTraceResponse)
from app.settings import Settings

router = APIRouter(prefix="/api", tags=["transposed convolution"], responses=ERROR_RESPONSES)


def _resolved(p: PreparedTransposed) -> ResolvedTransposed:
    return resolved(p.geometry, p.bias is not None)


def resolved(g: TransposedGeometry, has_bias: bool) -> ResolvedTransposed:
    return ResolvedTransposed(in_channels=g.in_channels, out_channels=g.out_channels, kernel_size=list(g.kernel),
                              stride=list(g.stride), padding=list(g.padding), output_padding=list(g.output_padding),
                              dilation=list(g.dilation), groups=g.groups, bias=has_bias,
                              gather_padding=[list(g.gather_padding[0]), list(g.gather_padding[1])],
                              zero_inserted_shape=list(g.zero_inserted_shape), gather_shape=list(gather_canvas_shape(g)),
                              stamp_span=list(g.stamp_span))


def _cost(g: TransposedGeometry, c) -> TransposedCost:
    return TransposedCost(**cost_model(c).model_dump(), zero_inserted_macs=zero_inserted_macs(g))


@router.post("/transposed/check", response_model=TransposedCheckResponse,
             summary="Check a transposed convolution without running it")
def transposed_check(req: TransposedCheckRequest, s: Settings = Depends(settings_of),
                     store: InputStore = Depends(store_of)):
    """Output shape, cost and the formulas, from shapes alone; an invalid layer answers ``valid: false``
    with the error /api/transposed would give. Nothing is allocated, so a page calls it on every change."""
    try:
        shape, info = input_shape(req.input, store, s)
        g, cost, has_bias = plan_transposed(shape, req.layer, req.weights, s)
    except ConvlensError as exc:
        return TransposedCheckResponse(valid=False, error=CheckError(code=exc.code, message=exc.message,
                                                                     status=exc.status_code))
    except GeometryError as exc:
        return TransposedCheckResponse(valid=False, error=CheckError(code="invalid_layer", message=str(exc),
                                                                     status=422))
    return TransposedCheckResponse(valid=True, input=info, layer=resolved(g, has_bias), output_shape=list(g.output_shape),
                                   cost=_cost(g, cost), formulas=TransposedFormulas(**explain_transposed(g, has_bias)))


@router.post("/transposed", response_model=TransposedResponse, summary="Run one transposed convolution",
             responses={200: {"content": {FRAME_MEDIA_TYPE: {}}, "description": "JSON, or with encoding=binary "
                                                                              "the same response as a binary frame"}})
def transposed(req: TransposedRequest, s: Settings = Depends(settings_of), store: InputStore = Depends(store_of)):
    """Input → ``torch.nn.functional.conv_transpose2d`` (weight layout [C_in, C_out/groups, kH, kW]) →
    the output, the weights, the cost (MACs: one per tap of each input pixel's stamp, as torch's
    FlopCounterMode counts) and the formulas with this layer's numbers: the output size, the equivalent
    direct convolution over the zero-inserted input, the convolution-arithmetic guide's relationships
    and which input shapes of the matching convolution this layer restores."""
    x, info = resolve_input(req.input, store, s)
    p = prepare_transposed(x.shape, req.layer, req.weights, s)
    out, ms = run_transposed(x, p, s)
    frame = Frame() if req.encoding == "binary" else None
    cost = _cost(p.geometry, p.cost)
    response = TransposedResponse(
        input=info, input_array=encode_array(x, req.encoding, frame) if req.include_input else None,
        gather_array=encode_array(gather_canvas(x, p.geometry), req.encoding, frame) if req.include_input else None,
        layer=_resolved(p), output_shape=list(out.shape), output=encode_array(out, req.encoding, frame),
        weight=encode_array(p.weight, req.encoding, frame), bias=None if p.bias is None else p.bias.tolist(),
        cost=cost, formulas=TransposedFormulas(**explain_transposed(p.geometry, p.bias is not None)),
        region=None if req.region_size is None else list(busiest_output_region(out, req.region_size)), engine_ms=ms)
    headers = {"X-Engine-Ms": f"{ms:.3f}"}
    if frame is not None:
        return ChunkedResponse(frame.chunks(response.model_dump_json().encode()), FRAME_MEDIA_TYPE, headers)
    body = response.model_dump_json() if req.encoding == "list" else json_bytes(response.model_dump())
    return Response(body, media_type="application/json", headers=headers)


@router.post("/transposed/trace", response_model=TransposedTraceResponse,
             summary="One transposed-convolution output value in both readings")
def transposed_trace(req: TransposedTraceRequest, s: Settings = Depends(settings_of),
                     store: InputStore = Depends(store_of)):
    """For each position: *scatter* (every input pixel whose stamp covers it, with the kernel tap that
    lands there: r + p = row·s + tap·d) and *gather* (the stride-1 window over the zero-inserted, padded
    input with the kernel rotated 180°), each summed, the bias, and the engine's value. The three agree."""
    x, info = resolve_input(req.input, store, s)
    p = prepare_transposed(x.shape, req.layer, req.weights, s)
    traces, engine = trace_transposed_many(x, p, [(q.channel, q.row, q.col) for q in req.positions], s)
    items = [TransposedTraceItem(
        channel=t.out_channel, row=t.row, col=t.col, group=t.group, weight_out_index=t.weight_out_index,
        input_channels=list(t.input_channels),
        stamps=Stamps(channels=[m.channel for m in t.stamps], rows=[m.row for m in t.stamps],
                      cols=[m.col for m in t.stamps], tap_rows=[m.tap_row for m in t.stamps],
                      tap_cols=[m.tap_col for m in t.stamps], origin_rows=[m.origin_row for m in t.stamps],
                      origin_cols=[m.origin_col for m in t.stamps], values=[m.value for m in t.stamps],
                      weights=[m.weight for m in t.stamps], products=[m.product for m in t.stamps]),
        scatter_sum=t.scatter_sum,
        gather=Gather(z_rows=list(t.z_rows), z_cols=list(t.z_cols), source_rows=list(t.source_rows),
                      source_cols=list(t.source_cols), windows=t.windows.tolist(),
                      rotated_weights=t.rotated_weights.tolist(), products=t.products.tolist(),
                      partial_sums=t.partial_sums.tolist()),
        gather_sum=t.gather_sum, bias=t.bias, value=t.value, engine_value=e) for t, e in zip(traces, engine)]
    return TransposedTraceResponse(input=info, layer=_resolved(p), output_shape=list(p.geometry.output_shape),
                                   traces=items)
