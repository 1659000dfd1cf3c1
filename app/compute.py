"""Validated spec + input tensor → the engine's result. The one place requests meet the engine.

Order matters: geometry and cost are derived from shapes alone, every limit is checked, and only then
are weights built and the convolution run, so an oversized request never allocates.
"""
from __future__ import annotations

import contextlib
import threading
import time
from dataclasses import dataclass

import numpy as np

from app import metrics
from app.engine import ConvCost, ConvGeometry, GeometryError, conv2d, conv_cost, conv_geometry, relu
from app.encoding import response_bytes
from app.engine.conv import check_weight_shape
from app.engine.geometry import allowed_groups, pair
from app.engine.trace import Trace, trace_positions
from app.errors import Busy, ConvlensError, Overflow, check_limit
from app.schemas import CustomWeights, LayerSpec, LayerWeights, PresetWeights, RandomWeights
from app.settings import Settings
from app.weights import model_layer_weights, preset_layout, preset_weights, random_weights


@dataclass(frozen=True)
class PreparedLayer:
    geometry: ConvGeometry
    cost: ConvCost
    weight: np.ndarray          # (C_out, C_in/groups, kH, kW)
    bias: np.ndarray | None     # (C_out,)
    flip: bool
    relu: bool


@dataclass(frozen=True)
class ConvResult:
    layer: PreparedLayer
    output: np.ndarray          # (C_out, H_out, W_out)
    engine_ms: float


def _agree(name: str, asked, implied, source: str) -> None:
    if asked is not None and asked != implied:
        raise GeometryError(f"{name}={asked} conflicts with the {source}, which implies {name}={implied}; "
                            f"omit {name} or change it")


def _layout(c_in: int, layer: LayerSpec, weights, s: Settings) -> tuple[int, tuple[int, int], int, bool]:
    """out_channels, kernel, groups and bias, from the layer and what the weights imply."""
    kernel = None if layer.kernel_size is None else pair(layer.kernel_size, "kernel_size")
    out, groups = layer.out_channels, layer.groups
    if isinstance(weights, PresetWeights):
        lay = preset_layout(weights.name, c_in, weights.mode)
        for name, asked, implied in (("out_channels", out, lay.out_channels), ("kernel_size", kernel, lay.kernel),
                                     ("groups", groups, lay.groups)):
            _agree(name, asked, implied, f"preset '{weights.name}'")
        return lay.out_channels, lay.kernel, lay.groups, lay.has_bias if layer.bias is None else layer.bias
    if isinstance(weights, CustomWeights):
        shape = _nested_shape(weights.weight)
        _agree("out_channels", out, shape[0], "custom weight's shape")
        _agree("kernel_size", kernel, (shape[2], shape[3]), "custom weight's shape")
        has_bias = weights.bias is not None if layer.bias is None else layer.bias
        return shape[0], (shape[2], shape[3]), groups or 1, has_bias
    if isinstance(weights, LayerWeights):  # a model's layer (issue 13): shape and bias are the model's
        w, b = model_layer_weights(weights.model, weights.layer, s)
        _agree("out_channels", out, w.shape[0], f"layer '{weights.layer[:80]}'")
        _agree("kernel_size", kernel, (w.shape[2], w.shape[3]), f"layer '{weights.layer[:80]}'")
        implied = c_in // w.shape[1] if c_in % w.shape[1] == 0 else 1
        return w.shape[0], (w.shape[2], w.shape[3]), groups or implied, b is not None if layer.bias is None else layer.bias
    return out or 4, kernel or (3, 3), groups or 1, True if layer.bias is None else layer.bias


def groups_choices(in_shape: tuple[int, int, int], layer: LayerSpec, weights, s: Settings) -> list[int] | None:
    """The groups values this layer could take on this input with everything else as asked: the one a
    preset implies, those that fit a custom weight's C_in/groups, the common divisors otherwise. None
    when the layer's channels cannot be worked out (e.g. a conflicting out_channels)."""
    c_in = in_shape[0]
    try:
        out, _, groups, _ = _layout(c_in, layer.model_copy(update={"groups": None}), weights, s)
    except (GeometryError, ConvlensError):  # e.g. a model layer that does not exist: no choices, not a 404
        return None
    if isinstance(weights, PresetWeights):
        return [groups]
    choices = allowed_groups(c_in, out)
    if isinstance(weights, CustomWeights):
        per_group = _nested_shape(weights.weight)[1]
        choices = [g for g in choices if c_in // g == per_group]
    return choices


def _nested_shape(w: list) -> tuple[int, int, int, int]:
    shape = (len(w), len(w[0]) if w else 0, len(w[0][0]) if w and w[0] else 0,
             len(w[0][0][0]) if w and w[0] and w[0][0] else 0)
    if min(shape) < 1 or any(len(a) != shape[1] or any(len(r) != shape[2] or any(len(c) != shape[3] for c in r)
                                                      for r in a) for a in w):
        raise GeometryError("custom weight must be a non-empty, rectangular [C_out][C_in/groups][kH][kW] list")
    return shape


def _check_custom(geom: ConvGeometry, weights: CustomWeights) -> None:
    """What /api/convolve would refuse in custom weights, found from the request alone (shape, bias
    length, finite float32 values), so /api/layer/check and /api/convolve give the same answer."""
    with np.errstate(over="ignore"):  # 1e39 becomes inf in float32: refused just below
        w = np.asarray(weights.weight, dtype=np.float32)  # bounded: the JSON scan capped the body's values
        b = None if weights.bias is None else np.asarray(weights.bias, dtype=np.float32)
    if not np.isfinite(w).all() or (b is not None and not np.isfinite(b).all()):
        raise GeometryError("custom weights and bias must be finite float32 numbers")
    if b is not None and b.shape != (geom.out_channels,):
        raise GeometryError(f"custom bias has {b.size} values; it needs one per output channel "
                            f"({geom.out_channels})")
    check_weight_shape(geom, w.shape, None)


def _build_weights(geom: ConvGeometry, weights, has_bias: bool, s: Settings) -> tuple[np.ndarray, np.ndarray | None]:
    if isinstance(weights, RandomWeights):
        return random_weights(geom.weight_shape, weights.seed, has_bias)
    if isinstance(weights, PresetWeights):
        w, b = preset_weights(weights.name, geom.in_channels, weights.mode)
    elif isinstance(weights, LayerWeights):  # issue 13; its shape was checked by plan_layer
        w, b = model_layer_weights(weights.model, weights.layer, s)
    else:  # checked by plan_layer (_check_custom)
        w = np.asarray(weights.weight, dtype=np.float32)
        b = None if weights.bias is None else np.asarray(weights.bias, dtype=np.float32)
    if has_bias and b is None:
        b = np.zeros(geom.out_channels, dtype=np.float32)
    return w, (b if has_bias else None)


@dataclass(frozen=True)
class LayerPlan:
    """A layer checked against an input shape and every limit, before any weight exists."""
    geometry: ConvGeometry
    cost: ConvCost
    has_bias: bool


def check_layout(out_channels: int, kernel: tuple[int, int], s: Settings) -> None:
    check_limit("kernel height", kernel[0], s.max_kernel, "max_kernel")
    check_limit("kernel width", kernel[1], s.max_kernel, "max_kernel")
    check_limit("output channels", out_channels, s.max_channels, "max_channels")


def check_conv_limits(geom: ConvGeometry, cost: ConvCost, s: Settings) -> None:
    """The limits every endpoint that runs the engine's convolution checks before allocating:
    /api/convolve, /api/trace, /api/layer/check and the 1×1 page's matmul, NiN, reduce and FC views."""
    check_layout(geom.out_channels, geom.kernel, s)
    check_limit("weight count (C_out·C_in/groups·kH·kW)", cost.params_without_bias, s.max_weight_count,
                "max_weight_count")
    check_limit("output elements (C_out·H_out·W_out)", geom.out_channels * geom.out_height * geom.out_width,
                s.max_output_elements, "max_output_elements")
    check_limit("padded input elements (C·(H + padding)·(W + padding))", geom.padded_elements,
                s.max_output_elements, "max_output_elements")
    check_limit("MACs (multiply-accumulates) of the layer", cost.macs, s.max_macs, "max_macs")


def check_response(values: int, encoding: str, s: Settings) -> None:
    """A response's size from the number of float32 values it will carry, before any is encoded
    ("list" at the output limit was a 681 MB body and +2.5 GB of Python floats)."""
    if encoding == "list":
        check_limit("numbers sent as JSON lists (encoding list)", values, s.max_list_values, "max_list_values")
    check_limit(f"the response's estimated size in bytes (encoding {encoding})", response_bytes(values, encoding),
                s.max_response_bytes, "max_response_bytes")


def plan_layer(in_shape: tuple[int, int, int], layer: LayerSpec, weights, s: Settings) -> LayerPlan:
    """The one validation of a layer on an input: /api/layer/check answers with it, /api/convolve and
    /api/trace run only what it accepted."""
    out, kernel, groups, has_bias = _layout(in_shape[0], layer, weights, s)
    check_layout(out, kernel, s)
    geom = conv_geometry(in_shape, out, kernel, layer.stride, layer.padding, layer.dilation, groups)
    cost = conv_cost(geom, has_bias)
    check_conv_limits(geom, cost, s)
    if isinstance(weights, CustomWeights):
        _check_custom(geom, weights)
    if isinstance(weights, LayerWeights):
        check_weight_shape(geom, model_layer_weights(weights.model, weights.layer, s)[0].shape, None)
    return LayerPlan(geom, cost, has_bias)


def convolve_values(in_shape: tuple[int, int, int], geom: ConvGeometry, weight_count: int, encoding: str,
                    include_input: bool) -> int:
    """float32 values a /api/convolve response carries in this encoding."""
    out = geom.out_channels * geom.out_height * geom.out_width
    if encoding in ("npy", "png"):
        return out // (geom.out_channels if encoding == "png" else 1)
    return out + weight_count + (in_shape[0] * in_shape[1] * in_shape[2] if include_input else 0)


def check_convolve(in_shape: tuple[int, int, int], layer: LayerSpec, weights, encoding: str, include_input: bool,
                   s: Settings) -> None:
    """Everything /api/convolve refuses, from shapes alone: before the input is generated or loaded (a
    random 1×4096×4096 input is 64 MB of work to make) and before any weight exists."""
    plan = plan_layer(in_shape, layer, weights, s)
    check_response(convolve_values(in_shape, plan.geometry, plan.cost.params_without_bias, encoding, include_input),
                   encoding, s)


def prepare_layer(in_shape: tuple[int, int, int], layer: LayerSpec, weights, s: Settings) -> PreparedLayer:
    plan = plan_layer(in_shape, layer, weights, s)
    w, b = _build_weights(plan.geometry, weights, plan.has_bias, s)
    return PreparedLayer(plan.geometry, plan.cost, w, b, layer.flip, layer.activation == "relu")


_SLOTS: dict[int, threading.BoundedSemaphore] = {}
_SLOTS_LOCK = threading.Lock()


@contextlib.contextmanager
def engine_slot(macs: int, s: Settings):
    """Admission by cost: a computation of ``heavy_macs`` or more runs only in one of
    ``max_heavy_requests`` slots of this worker, waiting up to ``heavy_queue_s`` for one (then 503 with
    Retry-After); lighter ones run at once, so they never queue behind heavy ones. (8 concurrent
    3.8 G MAC requests took 16.5 s each and 2.9 GB without it.) The middleware's Admission caps the
    requests in flight on engine routes whatever their cost."""
    if macs < s.heavy_macs:
        with metrics.engine_run(macs):
            yield
        return
    with _SLOTS_LOCK:
        slots = _SLOTS.setdefault(s.max_heavy_requests, threading.BoundedSemaphore(max(1, s.max_heavy_requests)))
    with metrics.queued():  # the heavy-request queue length (issue 17)
        admitted = slots.acquire(timeout=s.heavy_queue_s)
    if not admitted:
        raise Busy(f"{s.max_heavy_requests} computations of {s.heavy_macs:,} MACs or more are running and none "
                   f"finished within {s.heavy_queue_s} s; this one ({macs:,} MACs) can be sent again shortly",
                   s.heavy_queue_s, "CONVLENS_MAX_HEAVY_REQUESTS")
    try:
        with metrics.engine_run(macs):
            yield
    finally:
        slots.release()


def finite(arr: np.ndarray, what: str) -> np.ndarray:
    """``arr`` when every value is finite, else Overflow (422) naming ``what``: finite inputs and weights
    can still overflow float32 in a product or a sum, and an infinity would reach the page as a null or
    as JSON's non-standard Infinity (or fail to encode at all). min and max propagate inf and NaN and
    allocate nothing."""
    if arr.size and not (np.isfinite(arr.min()) and np.isfinite(arr.max())):
        raise Overflow(what)
    return arr


def run_layer(x: np.ndarray, p: PreparedLayer, s: Settings) -> ConvResult:
    g = p.geometry
    with engine_slot(p.cost.macs, s):
        t0 = time.perf_counter()
        out = conv2d(x, p.weight, p.bias, g.stride, (g.pad_h, g.pad_w), g.dilation, g.groups, p.flip,
                     chunk_bytes=s.im2col_chunk_bytes, threads=s.compute_threads)
        if p.relu:
            out = relu(out)
        return ConvResult(p, finite(out, "this layer's outputs"), (time.perf_counter() - t0) * 1e3)


def trace_many(x: np.ndarray, p: PreparedLayer, positions: list[tuple[int, int, int]]) -> list[Trace]:
    traces = trace_positions(x, p.weight, p.bias, p.geometry, positions, p.flip, p.relu)
    sums = np.array([t.pre_activation for t in traces])  # ±inf or NaN when any product overflowed
    bad = np.flatnonzero(~np.isfinite(sums))
    if bad.size:
        t = traces[bad[0]]
        finite(sums[bad[:1]], f"the products at output ({t.out_channel}, {t.row}, {t.col})")
    return traces
