"""Validated transposed-convolution spec + input tensor → the engine's result (issue 15).

As in app/compute.py: geometry and cost from shapes alone, every limit checked, then weights built and
the layer run, so an oversized request never allocates.
"""
from __future__ import annotations

import time
from dataclasses import dataclass

import numpy as np

from app.compute import _agree, _nested_shape, engine_slot, finite
from app.engine.cost import ConvCost, transposed_cost
from app.engine.errors import GeometryError
from app.engine.geometry import TransposedGeometry, pair, transposed_geometry
from app.engine.transposed import (TransposedTrace, conv_transpose2d, full_shape, gather_canvas_shape, trace_transposed,
                                   upsampling_kernel, upsampling_kernel_shape, upsampling_padding)
from app.errors import check_limit
from app.schemas_transposed import TCustomWeights, TransposedLayerSpec, TRandomWeights, UpsampleWeights
from app.settings import Settings
from app.weights import random_weights


@dataclass(frozen=True)
class PreparedTransposed:
    geometry: TransposedGeometry
    cost: ConvCost
    weight: np.ndarray          # (C_in, C_out/groups, kH, kW)
    bias: np.ndarray | None     # (C_out,)


def _layout(c_in: int, layer: TransposedLayerSpec, weights) -> tuple[int, tuple[int, int], int, tuple, bool]:
    """out_channels, kernel, groups, padding and bias, from the layer and what the weights imply."""
    kernel = None if layer.kernel_size is None else pair(layer.kernel_size, "kernel_size")
    padding = None if layer.padding is None else pair(layer.padding, "padding")
    if isinstance(weights, UpsampleWeights):
        stride = pair(layer.stride, "stride")
        k = upsampling_kernel_shape(weights.name, stride)  # nothing allocated before the limits
        for name, asked, implied in (("out_channels", layer.out_channels, c_in), ("kernel_size", kernel, k),
                                     ("groups", layer.groups, c_in)):
            _agree(name, asked, implied, f'"{weights.name}" upsampling kernel for stride {list(stride)}')
        pad = upsampling_padding(weights.name, stride) if padding is None else padding
        return c_in, k, c_in, pad, bool(layer.bias)
    groups = layer.groups or 1
    if isinstance(weights, TCustomWeights):
        shape = _nested_shape(weights.weight)  # (C_in, C_out/groups, kH, kW)
        _agree("kernel_size", kernel, (shape[2], shape[3]), "custom weight's shape")
        _agree("out_channels", layer.out_channels, shape[1] * groups, "custom weight's shape and groups")
        has_bias = weights.bias is not None if layer.bias is None else layer.bias
        return shape[1] * groups, (shape[2], shape[3]), groups, padding or (0, 0), has_bias
    return (layer.out_channels or 4, kernel or (3, 3), groups, padding or (0, 0),
            True if layer.bias is None else layer.bias)


def plan_transposed(in_shape: tuple[int, int, int], layer: TransposedLayerSpec, weights, s: Settings
                    ) -> tuple[TransposedGeometry, ConvCost, bool]:
    out, kernel, groups, padding, has_bias = _layout(in_shape[0], layer, weights)
    check_limit("kernel height", kernel[0], s.max_kernel, "max_kernel")
    check_limit("kernel width", kernel[1], s.max_kernel, "max_kernel")
    check_limit("output channels", out, s.max_channels, "max_channels")
    g = transposed_geometry(in_shape, out, kernel, layer.stride, padding, layer.output_padding, layer.dilation, groups)
    cost = transposed_cost(g, has_bias)
    check_limit("weight count", cost.params_without_bias, s.max_weight_count, "max_weight_count")
    fh, fw = full_shape(g)  # the uncropped canvas is what gets allocated, not just the output
    check_limit("output elements before cropping (C_out·H·W)", g.out_channels * fh * fw, s.max_output_elements,
                "max_output_elements")
    check_limit("stamps of one input row (C_out·kH·kW·W_in)", g.out_channels * kernel[0] * kernel[1] * g.in_width,
                s.max_output_elements, "max_output_elements")
    check_limit("MACs", cost.macs, s.max_macs, "max_macs")
    gh, gw = gather_canvas_shape(g)  # drawn for the page: the zero-inserted, padded input
    check_limit("zero-inserted input elements (C_in·H·W)", g.in_channels * gh * gw, s.max_output_elements,
                "max_output_elements")
    return g, cost, has_bias


def _weights(g: TransposedGeometry, weights, has_bias: bool) -> tuple[np.ndarray, np.ndarray | None]:
    if isinstance(weights, TRandomWeights):
        # Kaiming scale on fan_in = C_out/groups·kH·kW of torch's layout (as torch's own init reads it); the
        # bias (one per *output* channel) is drawn from the same seed with the same scale as /api/convolve's
        w, _ = random_weights(g.weight_shape, weights.seed, False)
        _, b = random_weights((g.out_channels, 1, 1, 1), weights.seed, has_bias)
        return w, b
    if isinstance(weights, UpsampleWeights):
        k = upsampling_kernel(weights.name, g.stride)
        w = np.broadcast_to(k, g.weight_shape).copy()  # (C_in, 1, kH, kW)
        return w, (np.zeros(g.out_channels, dtype=np.float32) if has_bias else None)
    w = np.asarray(weights.weight, dtype=np.float32)
    b = None if weights.bias is None else np.asarray(weights.bias, dtype=np.float32)
    if not np.isfinite(w).all() or (b is not None and not np.isfinite(b).all()):
        raise GeometryError("custom weights and bias must be finite float32 numbers")
    if w.shape != g.weight_shape:
        raise GeometryError(f"custom weight shape {list(w.shape)} does not match [C_in, C_out/groups, kH, kW] = "
                            f"{list(g.weight_shape)}")
    if b is not None and b.shape != (g.out_channels,):
        raise GeometryError(f"custom bias has {b.size} values; it needs one per output channel ({g.out_channels})")
    if has_bias and b is None:
        b = np.zeros(g.out_channels, dtype=np.float32)
    return w, (b if has_bias else None)


def prepare_transposed(in_shape: tuple[int, int, int], layer: TransposedLayerSpec, weights, s: Settings
                       ) -> PreparedTransposed:
    g, cost, has_bias = plan_transposed(in_shape, layer, weights, s)
    w, b = _weights(g, weights, has_bias)
    return PreparedTransposed(g, cost, w, b)


def run_transposed(x: np.ndarray, p: PreparedTransposed, s: Settings) -> tuple[np.ndarray, float]:
    g = p.geometry
    with engine_slot(p.cost.macs, s):  # heavy ones take one of the worker's heavy slots (issue 14)
        t0 = time.perf_counter()
        out = conv_transpose2d(x, p.weight, p.bias, g.stride, g.padding, g.output_padding, g.dilation, g.groups)
        return finite(out, "this layer's outputs"), (time.perf_counter() - t0) * 1e3


def trace_transposed_many(x: np.ndarray, p: PreparedTransposed, positions: list[tuple[int, int, int]],
                          s: Settings, out: np.ndarray | None = None) -> tuple[list[TransposedTrace], list[float]]:
    """Both readings at each position, and the engine's value there (the page shows all three agree).
    out: the engine's output of this layer on x when the caller has run it already."""
    g = p.geometry
    check_limit("trace positions", len(positions), s.max_trace_positions, "max_trace_positions")
    check_limit("trace values (positions × C_in/groups·kH·kW)", len(positions) * g.in_per_group * g.kernel[0]
                * g.kernel[1], s.max_trace_values, "max_trace_values")
    for c, r, q in positions:
        if not (0 <= c < g.out_channels and 0 <= r < g.out_height and 0 <= q < g.out_width):
            raise GeometryError(f"position (channel={c}, row={r}, col={q}) is outside the output "
                                f"{list(g.output_shape)}")
    if out is None:
        out, _ = run_transposed(x, p, s)
    traces = [trace_transposed(x, p.weight, p.bias, g, c, r, q) for c, r, q in positions]
    return traces, [float(out[c, r, q]) for c, r, q in positions]
