"""Validated convolution requests → the answers of /api/layer/check, /api/convolve, /api/trace and
/api/convolve/view (all three at once, for a page).

app.compute plans, prepares and runs one layer; this module turns a request into the answer the
routers in app/api/convolve.py send: the check (from shapes alone, nothing allocated), the run with its
encoding, and the term-by-term trace.
"""
from __future__ import annotations

from dataclasses import asdict, dataclass

from app.compute import (PreparedLayer, check_convolve, groups_choices, plan_layer, prepare_layer, run_layer,
                         trace_many)
from app.encoding import Frame, encode_array, npy_chunks, to_png
from app.engine.cost import ConvCost
from app.engine.errors import GeometryError
from app.engine.explain import connectivity, explain
from app.engine.region import busiest_region, first_and_last, region_at
from app.engine.views import preview_step
from app.errors import ConvlensError, NotFound, check_limit
from app.inputs.resolve import input_shape, resolve_input
from app.inputs.store import InputStore
from app.schemas import (CheckError, ConvolveRequest, ConvolveResponse, Cost, Formulas, LayerCheckRequest,
                         LayerCheckResponse, Region, ResolvedLayer, TraceRequest)
from app.schemas_view import TraceAnswer, TraceSpot, ViewRequest, ViewResponse
from app.settings import Settings


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


def check_layer(req: LayerCheckRequest, store: InputStore, s: Settings) -> LayerCheckResponse:
    """The layer's shape, cost, formulas and connectivity, or ``valid: false`` with the error
    /api/convolve would give (and the groups that would be allowed)."""
    shape = None
    try:
        shape, info = input_shape(req.input, store, s)
        plan = plan_layer(shape, req.layer, req.weights, s)
    except (ConvlensError, GeometryError) as exc:
        error = (CheckError(code=exc.code, message=exc.message, status=exc.status_code) if isinstance(exc, ConvlensError)
                 else CheckError(code="invalid_layer", message=str(exc), status=422))
        return LayerCheckResponse(valid=False, error=error,
                                  allowed_groups=shape and groups_choices(shape, req.layer, req.weights, s))
    g = plan.geometry
    return LayerCheckResponse(valid=True, input=info, layer=resolved_layer(g, plan.has_bias, req.layer.flip,
                                                                           req.layer.activation == "relu"),
                              output_shape=list(g.output_shape), cost=cost_model(plan.cost),
                              formulas=Formulas(**explain(g, plan.has_bias)), connectivity=connectivity(g),
                              allowed_groups=groups_choices(shape, req.layer, req.weights, s))


@dataclass(frozen=True)
class ConvolveAnswer:
    """What /api/convolve sends: a whole response (with its frame when binary), or for npy the output's
    chunks, or for png one channel's picture."""
    engine_ms: float
    response: ConvolveResponse | ViewResponse | None = None
    frame: Frame | None = None
    npy: list | None = None
    png: bytes | None = None


def convolve(req: ConvolveRequest, store: InputStore, s: Settings) -> ConvolveAnswer:
    """Every limit checked from shapes first; then input → layer → output, encoded as asked."""
    check_convolve(input_shape(req.input, store, s)[0], req.layer, req.weights, req.encoding, req.include_input, s)
    x, info = resolve_input(req.input, store, s)
    return _run(req, x, info, prepare_layer(x.shape, req.layer, req.weights, s), s)


def _run(req: ConvolveRequest | ViewRequest, x, info, layer: PreparedLayer, s: Settings) -> ConvolveAnswer:
    result = run_layer(x, layer, s)
    if req.encoding == "npy":
        return ConvolveAnswer(result.engine_ms, npy=npy_chunks(result.output))
    if req.encoding == "png":  # (a ViewRequest has neither npy nor png)
        if req.channel >= result.output.shape[0]:
            raise NotFound(f"output channel {req.channel} does not exist; the output has channels "
                           f"0..{result.output.shape[0] - 1}")
        return ConvolveAnswer(result.engine_ms, png=to_png(result.output, req.channel))
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
    return ConvolveAnswer(result.engine_ms, response=response, frame=frame)


def _positions(req: TraceRequest, layer: PreparedLayer, s: Settings) -> list[tuple[int, int, int]]:
    """The request's positions and region, within the trace limits."""
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
    return _within_limits(pos, layer, s)


def _within_limits(pos: list[tuple[int, int, int]], layer: PreparedLayer, s: Settings) -> list[tuple[int, int, int]]:
    check_limit("trace positions", len(pos), s.max_trace_positions, "max_trace_positions")
    g = layer.geometry
    check_limit("trace values (positions × C_in/groups·kH·kW)",
                len(pos) * g.in_per_group * g.kernel[0] * g.kernel[1], s.max_trace_values, "max_trace_values")
    return pos


def trace(req: TraceRequest, store: InputStore, s: Settings) -> dict:
    """Each requested position's computation as plain JSON values (the router sends it with orjson:
    FastAPI's generic encoder walks every number and is ~10× slower than json.dumps, itself ~20× slower)."""
    x, info = resolve_input(req.input, store, s)
    layer = prepare_layer(x.shape, req.layer, req.weights, s)
    return {"input": info.model_dump(), "layer": _resolved(layer).model_dump(),
            "output_shape": list(layer.geometry.output_shape),
            "traces": _traces_json(x, layer, _positions(req, layer, s))}


def _traces_json(x, layer: PreparedLayer, positions: list[tuple[int, int, int]]) -> list[dict]:
    return [{"channel": t.out_channel, "row": t.row, "col": t.col, "group": t.group,
             "input_channels": list(t.input_channels), "input_rows": list(t.input_rows),
             "input_cols": list(t.input_cols), "is_padding": t.is_padding.tolist(),
             "windows": t.windows.tolist(), "weights": t.weights.tolist(), "products": t.products.tolist(),
             "partial_sums": t.partial_sums.tolist(), "bias": t.bias, "pre_activation": t.pre_activation,
             "value": t.value} for t in trace_many(x, layer, positions)]


def view(req: ViewRequest, store: InputStore, s: Settings) -> ConvolveAnswer:
    """The check; for a valid layer also the run and the trace, in one answer. A page sent the check and
    then the run and the trace: two round trips of ~10 ms each in Chromium on two cores, which were half
    of a control change's time to pixels. An invalid layer is answered as the check answers it (200,
    ``valid: false``): the browser logs every 4xx answer as an error."""
    check = check_layer(req, store, s)
    if not check.valid:
        return ConvolveAnswer(0.0, response=ViewResponse(check=check),
                              frame=Frame() if req.encoding == "binary" else None)  # a frame with no arrays
    check_convolve(input_shape(req.input, store, s)[0], req.layer, req.weights, req.encoding, req.include_input, s)
    x, info = resolve_input(req.input, store, s)
    layer = prepare_layer(x.shape, req.layer, req.weights, s)
    ran = _run(req, x, info, layer, s)
    trace = None if req.trace is None else _spot_trace(req.trace, x, layer, s)
    return ConvolveAnswer(ran.engine_ms, response=ViewResponse(check=check, conv=ran.response, trace=trace),
                          frame=ran.frame)


def _spot_trace(spot: TraceSpot, x, layer: PreparedLayer, s: Settings) -> TraceAnswer:
    """The spot's region placed inside the output (or the busiest one), and its positions' traces."""
    g = layer.geometry
    channel = min(spot.channel, g.out_channels - 1)
    if (spot.row is None) != (spot.col is None):
        raise GeometryError("trace: give both row and col, or neither (the region with the most input detail)")
    at = (busiest_region(x, g, spot.size) if spot.row is None
          else region_at(spot.row, spot.col, spot.size, g.out_height, g.out_width))
    channels = range(g.out_channels) if spot.all_channels else [channel]
    positions = _within_limits([(c, i, j) for i, j in first_and_last(at, spot.upto) for c in channels], layer, s)
    return TraceAnswer.model_construct(region=Region(channel=channel, **asdict(at)),
                                       traces=_traces_json(x, layer, positions))
