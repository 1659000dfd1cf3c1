"""Validated transposed-convolution requests → the answers of /api/transposed/check, /api/transposed,
/api/transposed/trace and /api/transposed/view (the three at once, for the page) (issue 15).
app.compute_transposed plans, prepares and runs the layer; this module builds what the routers in
app/api/transposed.py send."""
from __future__ import annotations

from dataclasses import asdict

import numpy as np

from app.compute_convolve import cost_model
from app.compute_transposed import (PreparedTransposed, plan_transposed, prepare_transposed, run_transposed,
                                    trace_transposed_many)
from app.encoding import Frame, encode_array
from app.engine.cost import ConvCost, zero_inserted_macs
from app.engine.errors import GeometryError
from app.engine.geometry import TransposedGeometry
from app.engine.region import first_and_last, region_at
from app.engine.transposed import busiest_output_region, gather_canvas, gather_canvas_shape
from app.engine.transposed_explain import explain_transposed
from app.errors import ConvlensError
from app.inputs.resolve import input_shape, resolve_input
from app.inputs.store import InputStore
from app.schemas import CheckError, InputInfo, Region
from app.schemas_transposed import (Gather, ResolvedTransposed, Stamps, TransposedCheckRequest,
                                    TransposedCheckResponse, TransposedCost, TransposedFormulas, TransposedRequest,
                                    TransposedResponse, TransposedSpot, TransposedTraceAnswer, TransposedTraceItem,
                                    TransposedTraceRequest, TransposedTraceResponse, TransposedViewRequest,
                                    TransposedViewResponse)
from app.settings import Settings


def resolved(g: TransposedGeometry, has_bias: bool) -> ResolvedTransposed:
    return ResolvedTransposed(in_channels=g.in_channels, out_channels=g.out_channels, kernel_size=list(g.kernel),
                              stride=list(g.stride), padding=list(g.padding), output_padding=list(g.output_padding),
                              dilation=list(g.dilation), groups=g.groups, bias=has_bias,
                              gather_padding=[list(g.gather_padding[0]), list(g.gather_padding[1])],
                              zero_inserted_shape=list(g.zero_inserted_shape), gather_shape=list(gather_canvas_shape(g)),
                              stamp_span=list(g.stamp_span))


def _resolved(p: PreparedTransposed) -> ResolvedTransposed:
    return resolved(p.geometry, p.bias is not None)


def _cost(g: TransposedGeometry, c: ConvCost) -> TransposedCost:
    return TransposedCost(**cost_model(c).model_dump(), zero_inserted_macs=zero_inserted_macs(g))


def check(req: TransposedCheckRequest, store: InputStore, s: Settings) -> TransposedCheckResponse:
    """Shape, cost and formulas from shapes alone, or ``valid: false`` with the error the run would give."""
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


def run(req: TransposedRequest, store: InputStore, s: Settings) -> tuple[TransposedResponse, Frame | None, float]:
    """The layer run on the input: the response (its arrays in the frame when binary) and the engine's ms."""
    x, info = resolve_input(req.input, store, s)
    p = prepare_transposed(x.shape, req.layer, req.weights, s)
    out, ms = run_transposed(x, p, s)
    return (*_response(req, x, info, p, out, ms), ms)


def _response(req: TransposedRequest, x: np.ndarray, info: InputInfo, p: PreparedTransposed, out: np.ndarray,
              ms: float) -> tuple[TransposedResponse, Frame | None]:
    frame = Frame() if req.encoding == "binary" else None
    response = TransposedResponse(
        input=info, input_array=encode_array(x, req.encoding, frame) if req.include_input else None,
        gather_array=encode_array(gather_canvas(x, p.geometry), req.encoding, frame) if req.include_input else None,
        layer=_resolved(p), output_shape=list(out.shape), output=encode_array(out, req.encoding, frame),
        weight=encode_array(p.weight, req.encoding, frame), bias=None if p.bias is None else p.bias.tolist(),
        cost=_cost(p.geometry, p.cost), formulas=TransposedFormulas(**explain_transposed(p.geometry, p.bias is not None)),
        region=None if req.region_size is None else list(busiest_output_region(out, req.region_size)), engine_ms=ms)
    return response, frame


def trace(req: TransposedTraceRequest, store: InputStore, s: Settings) -> TransposedTraceResponse:
    """Each position (or the spot's square) in both readings (scatter and gather) beside the engine's value."""
    x, info = resolve_input(req.input, store, s)
    p = prepare_transposed(x.shape, req.layer, req.weights, s)
    if req.spot is None:
        region, items = None, _items(x, p, [(q.channel, q.row, q.col) for q in req.positions], s)
    elif "positions" in req.model_fields_set:
        raise GeometryError("give positions or spot, not both")
    else:
        answer = _spot_trace(req.spot, x, p, None, s)
        region, items = answer.region, answer.traces
    return TransposedTraceResponse(input=info, layer=_resolved(p), output_shape=list(p.geometry.output_shape),
                                   traces=items, region=region)


def _items(x: np.ndarray, p: PreparedTransposed, positions: list[tuple[int, int, int]], s: Settings,
           out: np.ndarray | None = None) -> list[TransposedTraceItem]:
    traces, engine = trace_transposed_many(x, p, positions, s, out)
    return [TransposedTraceItem(
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


def _spot_trace(spot: TransposedSpot, x: np.ndarray, p: PreparedTransposed, out: np.ndarray | None,
                s: Settings) -> TransposedTraceAnswer:
    """The spot's square placed inside the output (without a corner: the busiest one, as region_size
    picks it from the output), and each of its positions traced, in row-major order."""
    g = p.geometry
    if (spot.row is None) != (spot.col is None):
        raise GeometryError("trace: give both row and col, or neither (the square with the most output detail)")
    if spot.row is None:
        if out is None:
            out, _ = run_transposed(x, p, s)
        row, col = busiest_output_region(out, spot.size)
    else:
        row, col = spot.row, spot.col
    at = region_at(row, col, spot.size, g.out_height, g.out_width)
    channel = min(spot.channel, g.out_channels - 1)
    positions = [(channel, i, j) for i, j in first_and_last(at)]
    return TransposedTraceAnswer(region=Region(channel=channel, **asdict(at)), traces=_items(x, p, positions, s, out))


def view(req: TransposedViewRequest, store: InputStore, s: Settings) -> tuple[TransposedViewResponse, Frame | None, float]:
    """The check; for a valid layer also the run and the trace of a square, in one answer (the page sent
    the three one after another: each round trip was ~10 ms of a change's time to pixels in Chromium). An
    invalid layer is answered as the check answers it (200, ``valid: false``): the browser logs every 4xx
    answer as an error. The layer runs once: the trace's engine values and busiest square come from it."""
    checked = check(req, store, s)
    if not checked.valid:  # still a frame when binary: the page reads one
        return TransposedViewResponse(check=checked), Frame() if req.encoding == "binary" else None, 0.0
    x, info = resolve_input(req.input, store, s)
    p = prepare_transposed(x.shape, req.layer, req.weights, s)
    out, ms = run_transposed(x, p, s)
    tconv, frame = _response(req, x, info, p, out, ms)
    spot = None if req.trace is None else _spot_trace(req.trace, x, p, out, s)
    return TransposedViewResponse(check=checked, tconv=tconv, trace=spot), frame, ms
