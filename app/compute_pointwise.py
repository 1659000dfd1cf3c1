"""Validated 1×1-page requests → the engine's equivalences → the answers (issue 4).

Each function serves one endpoint of app/api/pointwise.py: it resolves the input, checks every limit
from shapes before anything is allocated, runs app.engine.pointwise in an engine slot and encodes the
result. The routers only call one of these and send what it returns.
"""
from __future__ import annotations

import json
import threading
from collections import OrderedDict

import numpy as np

from app.compute import check_conv_limits, check_response, engine_slot, finite, prepare_layer
from app.encoding import Frame, encode_array
from app.engine import GeometryError, conv1x1, conv_cost, conv_geometry, max_pool2d, pool_cost, pool_geometry
from app.engine.explain import fc_explain
from app.engine.pointwise import conv_stack, fc_as_conv, max_abs, mlp_per_pixel, pointwise_as_matmul
from app.errors import check_limit
from app.inputs.resolve import resolve_input
from app.inputs.samples import random_tensor
from app.inputs.store import InputStore
from app.schemas_pointwise import (FcRequest, FcResponse, MatmulRequest, MatmulResponse, NinLayer, NinRequest,
                                   NinResponse, Reduced, ReduceRequest)
from app.settings import Settings
from app.weights import random_weights


def matmul_view(req: MatmulRequest, store: InputStore, s: Settings) -> tuple[MatmulResponse, Frame | None]:
    """The plain 1×1 layer as X (H·W × C_in) · Wᵀ, every row_step-th row of X and Y sent; with
    encoding=binary the arrays go in the returned frame."""
    x, _ = resolve_input(req.input, store, s)
    layer = prepare_layer(x.shape, req.layer, req.weights, s)
    g = layer.geometry
    if not (g.is_pointwise and g.stride == (1, 1) and g.groups == 1 and g.pad_h == (0, 0) and g.pad_w == (0, 0)):
        raise GeometryError("the matrix view is for a plain 1×1 layer: kernel 1, stride 1, padding 0, groups 1")
    rows_sent = -(-g.out_height * g.out_width // req.row_step)
    check_response((x.shape[0] + g.out_channels) * rows_sent + layer.weight.size, req.encoding, s)
    with engine_slot(layer.cost.macs, s):
        v = pointwise_as_matmul(x, layer.weight, layer.bias)
    finite(v.conv, "this layer's outputs")
    frame = Frame() if req.encoding == "binary" else None
    every = lambda m: m if req.row_step == 1 else np.ascontiguousarray(m[::req.row_step])  # noqa: E731
    return MatmulResponse(x_shape=list(v.x_matrix.shape), w_shape=list(v.w_matrix.shape),
                          y_shape=list(v.y_matrix.shape), output_shape=list(v.conv.shape),
                          max_abs_conv_vs_matmul=v.max_abs_conv_vs_matmul,
                          max_abs_conv_vs_per_pixel=v.max_abs_conv_vs_per_pixel, row_step=req.row_step,
                          x_matrix=encode_array(every(v.x_matrix), req.encoding, frame, whole=True),
                          w_matrix=encode_array(v.w_matrix, req.encoding, frame, whole=True),
                          y_matrix=encode_array(every(v.y_matrix), req.encoding, frame, whole=True)), frame


def reduce(req: ReduceRequest, store: InputStore, s: Settings) -> list[Reduced]:
    """A 1×1 convolution to C // reduction channels beside a max pool of the same input."""
    x, _ = resolve_input(req.input, store, s)
    c = x.shape[0]
    g = conv_geometry(x.shape, max(1, c // req.reduction), 1)
    cc = conv_cost(g, True)
    check_conv_limits(g, cc, s)
    w, b = random_weights(g.weight_shape, req.seed, True)
    pg = pool_geometry(x.shape, req.pool)
    pc = pool_cost(pg)
    with engine_slot(cc.macs if req.include_output else 0, s):
        outputs = ((encode_array(finite(conv1x1(x, w, b), "the 1×1 layer's outputs")), encode_array(max_pool2d(x, req.pool)))
                   if req.include_output else (None, None))
    return [
        Reduced(name=f"1×1 conv {c}→{g.out_channels}", output_shape=list(g.output_shape),
                params=cc.params, work=cc.macs, output=outputs[0]),
        Reduced(name=f"{req.pool}×{req.pool} max pool", output_shape=list(pg.output_shape), params=pc.params,
                work=pc.comparisons_or_adds, output=outputs[1]),
    ]


# The whole-tensor check of a NiN stack (its output shape, max |conv stack − per-pixel MLP|) depends only
# on the input, the widths and the seed: kept for the last few, so moving the pixel on a photo costs the
# pixel's own vector, not the whole stack and MLP again (0.5–2 s per pixel on a 1024×768 photo here).
NIN_CHECKS_KEPT = 16
_nin_checks: OrderedDict[str, tuple[list[int], float]] = OrderedDict()
_nin_lock = threading.Lock()


def nin(req: NinRequest, store: InputStore, s: Settings) -> NinResponse:
    """The stack's activations at one pixel, its weights, and the whole-input check (remembered)."""
    x, _ = resolve_input(req.input, store, s)
    if not (req.row < x.shape[1] and req.col < x.shape[2]):
        raise GeometryError(f"pixel ({req.row}, {req.col}) is outside the input {x.shape[1]}×{x.shape[2]}")
    layers, widths_in, costs = [], [x.shape[0], *req.widths[:-1]], []
    for k, (c_in, c_out) in enumerate(zip(widths_in, req.widths)):
        g = conv_geometry((c_in, *x.shape[1:]), c_out, 1)
        costs.append(conv_cost(g, True))
        check_conv_limits(g, costs[-1], s)
        check_limit("MACs of the stack", sum(c.macs for c in costs), s.max_macs, "max_macs")
        layers.append(random_weights(g.weight_shape, req.seed + k, True))
    key = json.dumps([req.input.model_dump(mode="json"), req.widths, req.seed])
    with _nin_lock:
        known = _nin_checks.get(key)
    whole = None
    if known is None or req.include_output:
        with engine_slot(2 * sum(c.macs for c in costs), s):  # the stack and the per-pixel MLP it is checked against
            acts = conv_stack(x, layers)
            mlp = mlp_per_pixel(x, layers)
        finite(acts[-1], "the stack's outputs")
        whole, known = acts[-1], (list(acts[-1].shape), max_abs(acts[-1], mlp))
        with _nin_lock:
            _nin_checks[key] = known
            while len(_nin_checks) > NIN_CHECKS_KEPT:
                _nin_checks.popitem(last=False)
    # the pixel's activations: the same 1×1 convolutions on that pixel's column (a 1×1 reads nothing else)
    at_pixel = conv_stack(np.ascontiguousarray(x[:, req.row:req.row + 1, req.col:req.col + 1]), layers)
    return NinResponse(
        input_at_pixel=x[:, req.row, req.col].tolist(),
        layers=[NinLayer(in_channels=w.shape[1], out_channels=w.shape[0], params=c.params, macs=c.macs,
                         weight=w[:, :, 0, 0].tolist(), bias=b.tolist(), activation_at_pixel=a[:, 0, 0].tolist())
                for (w, b), a, c in zip(layers, at_pixel, costs)],
        output_shape=known[0], max_abs_conv_stack_vs_mlp=known[1],
        output=encode_array(whole) if req.include_output else None)


def fc(req: FcRequest, s: Settings) -> FcResponse:
    """An FC layer over a k×k×C block run as a k×k convolution, on the block and slid over a larger input."""
    if req.size < req.block:
        raise GeometryError(f"the larger input side ({req.size}) must be at least the block k ({req.block}): "
                            f"the {req.block}×{req.block} window has to fit in it")
    g = conv_geometry((req.channels, req.size, req.size), req.outputs, req.block)  # the conv the FC layer slides as
    check_conv_limits(g, conv_cost(g, True), s)
    x = random_tensor((req.channels, req.size, req.size), req.seed)
    w, b = random_weights((req.outputs, req.channels * req.block * req.block, 1, 1), req.seed + 1, True)
    with engine_slot(conv_cost(g, True).macs, s):
        r = fc_as_conv(x, w[:, :, 0, 0], b, req.block)
    e = fc_explain(req.channels, req.block, req.outputs, req.size)
    return FcResponse(fc_inputs=e["inputs"], fc_params=e["params"], inputs_formula=e["inputs_formula"],
                      params_formula=e["params_formula"], conv_weight_shape=e["conv_weight_shape"],
                      fc_scores=r.fc_scores.tolist(), conv_scores=r.conv_scores.tolist(), max_abs_block=r.max_abs_block,
                      score_map_shape=list(r.score_map.shape), max_abs_map=r.max_abs_map,
                      score_map=encode_array(r.score_map))
