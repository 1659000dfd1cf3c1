"""The networks service: the one function each /api/models route calls. Routers parse and answer;
the numbers come from the engine's graph walks (app.engine.graph) on models imported once per process."""
from __future__ import annotations

import functools
import json
from pathlib import Path
from typing import Optional

import numpy as np

from app.compute import engine_slot, finite
from app.encoding import Frame, encode_array
from app.engine.graph import Graph, NodeCost, cost_table, run, timed_run
from app.engine.roofline import machine_roofline
from app.errors import ConvlensError, NotFound
from app.inputs.resolve import resolve_input
from app.inputs.store import InputStore
from app.models.digits import checked_drawing, digits_to_input
from app.models.image_input import image_to_model_input, ink_to_digit
from app.models.onnx_import import BadModel, ImportedModel, model_graph, parse_model
from app.models.store import ModelStore
from app.schemas import InputInfo
from app.schemas_network import (ActivationRequest, DrawingInput, ImageInput, LayerRow, LayerRun, ModelDetail,
                                 ModelInfo, OpShare, Prediction, RooflineInfo, RunRequest, RunResponse, TestImageInput, Totals)
from app.settings import Settings

BUILTIN_DIR = Path(__file__).parent / "builtin"
BUILTINS = ("digits",)
PREVIEW_SIDE = 32


@functools.lru_cache(maxsize=len(BUILTINS))
def builtin_meta(name: str) -> dict:
    return json.loads((BUILTIN_DIR / f"{name}.json").read_text())


@functools.lru_cache(maxsize=len(BUILTINS))
def builtin_test_set(name: str) -> tuple[np.ndarray, np.ndarray]:
    """The held-out 8×8 images (uint8, 0..16) and their labels."""
    with np.load(BUILTIN_DIR / f"{name}_test.npz", allow_pickle=False) as z:
        return z["images"], z["labels"]


@functools.lru_cache(maxsize=8)
def _imported(model_id: str, store: ModelStore, s: Settings) -> tuple[ImportedModel, int, str]:
    """Parsed and decoded once per process: each weight is decoded once per model, not once per run."""
    if model_id in BUILTINS:
        data = (BUILTIN_DIR / f"{model_id}.onnx").read_bytes()
        return parse_model(data, s), len(data), builtin_meta(model_id)["title"]
    data, meta = store.get(model_id)
    return parse_model(data, s), meta.size_bytes, meta.name


@functools.lru_cache(maxsize=16)
def _graph(model_id: str, size: Optional[tuple[int, int]], store: ModelStore, s: Settings) -> Graph:
    return model_graph(_imported(model_id, store, s)[0], size, s)


def _info(model_id: str, m: ImportedModel, size_bytes: int, name: str) -> ModelInfo:
    meta = builtin_meta(model_id) if model_id in BUILTINS else {}
    return ModelInfo(id=model_id, name=name, builtin=model_id in BUILTINS, size_bytes=size_bytes,
                     input_shape=list(m.input_dims), nodes=len(m.nodes), params=m.params, opset=m.opset,
                     accuracy=meta.get("test_accuracy"), test_images=meta.get("test_images"),
                     classes=meta.get("classes"))


def model_info(model_id: str, store: ModelStore, s: Settings) -> ModelInfo:
    return _info(model_id, *_imported(model_id, store, s))


def list_models(store: ModelStore, s: Settings) -> list[ModelInfo]:
    out = [model_info(name, store, s) for name in BUILTINS]
    for stored in store.list():
        try:
            out.append(model_info(stored.id, store, s))
        except ConvlensError:
            continue  # evicted meanwhile, or refused under today's limits
    return out


def upload_model(data: bytes, filename: str, store: ModelStore, s: Settings) -> ModelInfo:
    """Checked in full (parse, whitelist, decode, and shapes and budgets at its declared size when that is
    static) before it is stored."""
    m = parse_model(data, s)
    if all(isinstance(d, int) for d in m.input_dims[2:]):
        model_graph(m, None, s)
    stored = store.put(data, (filename or "model.onnx")[:120])
    return _info(stored.id, m, stored.size_bytes, stored.name)


def _size(size: Optional[list[int]]) -> Optional[tuple[int, int]]:
    return None if size is None else (int(size[0]), int(size[1]))


def _row(i: int, r: NodeCost) -> LayerRow:
    return LayerRow(index=i, name=r.node.name, op=r.node.op, inputs=[x for x in r.node.inputs if x],
                    output=r.node.outputs[0], in_shape=list(r.in_shapes[0]) if r.in_shapes and r.in_shapes[0] else None,
                    out_shape=list(r.out_shapes[0]), kernel=list(r.kernel) if r.kernel else None,
                    stride=list(r.stride) if r.stride else None, groups=r.groups, is_1x1=r.is_1x1,
                    bn_folded=bool(r.node.attrs.get("bn_folded")), params=r.cost.params, macs=r.cost.macs,
                    bytes_read=r.cost.bytes_read, bytes_written=r.cost.bytes_written,
                    macs_per_byte=r.cost.macs_per_byte)


def _share(part: int | float, whole: int | float) -> float:
    return part / whole if whole else 0.0


def model_detail(model_id: str, size: Optional[list[int]], store: ModelStore, s: Settings) -> ModelDetail:
    g = _graph(model_id, _size(size), store, s)
    rows = cost_table(g)
    params, macs = sum(r.cost.params for r in rows), sum(r.cost.macs for r in rows)
    pw = [r for r in rows if r.is_1x1]
    pw_params, pw_macs = sum(r.cost.params for r in pw), sum(r.cost.macs for r in pw)
    by_op: dict[str, list[int]] = {}
    for r in rows:
        key = "Conv 1×1" if r.is_1x1 else r.node.op
        acc = by_op.setdefault(key, [0, 0, 0])
        acc[0], acc[1], acc[2] = acc[0] + 1, acc[1] + r.cost.params, acc[2] + r.cost.macs
    totals = Totals(params=params, macs=macs, flops=2 * macs, bytes_moved=sum(r.cost.bytes_moved for r in rows),
                    pointwise_params=pw_params, pointwise_macs=pw_macs, pointwise_params_share=_share(pw_params, params),
                    pointwise_macs_share=_share(pw_macs, macs))
    return ModelDetail(model=model_info(model_id, store, s), input_shape=list(g.shapes[g.inputs[0]]),
                       layers=[_row(i, r) for i, r in enumerate(rows)], totals=totals,
                       by_op=[OpShare(op=k, layers=v[0], params=v[1], macs=v[2]) for k, v in by_op.items()])


def _model_input(model_id: str, spec, g: Graph, inputs: InputStore, s: Settings) -> np.ndarray:
    """The (1, C, H, W) tensor the model runs on."""
    want = g.shapes[g.inputs[0]]
    if isinstance(spec, (TestImageInput, DrawingInput)):
        if model_id != "digits":
            raise ConvlensError(f"'{spec.kind}' inputs are for the built-in digits model; give this model a "
                                "sample, a random tensor or an uploaded input")
        if isinstance(spec, TestImageInput):
            images, _ = builtin_test_set(model_id)
            if spec.index >= len(images):
                raise NotFound(f"test image {spec.index} does not exist; there are {len(images)} (0..{len(images) - 1})")
            return digits_to_input(images[spec.index:spec.index + 1])
        if len(spec.values) != spec.size ** 2:
            raise ConvlensError(f"a drawing of size {spec.size} needs {spec.size ** 2} values, got {len(spec.values)}")
        digit = ink_to_digit(checked_drawing(np.asarray(spec.values, dtype=np.float64).reshape(spec.size, spec.size)))
        return digits_to_input(digit[None])
    if isinstance(spec, ImageInput):
        img, _ = inputs.get(spec.id)
        return image_to_model_input(img, tuple(want), model_id == "digits", spec.invert)
    arr, _ = resolve_input(spec, inputs, s)
    if (1, *arr.shape) != tuple(want):
        raise ConvlensError(f"this model takes an input of shape {list(want[1:])} [C, H, W] at this size; the "
                            f"chosen input is {list(arr.shape)}" + ("" if arr.shape[0] == want[1] else
                                                                    f" (it needs {want[1]} channels)"))
    return np.asarray(arr, dtype=np.float32)[None]


def _input(model_id, spec, size, store, inputs, s) -> tuple[Graph, np.ndarray, InputInfo]:
    g = _graph(model_id, _size(size), store, s)
    x = _model_input(model_id, spec, g, inputs, s)
    stored = inputs.put(x[0])  # so /conv and /pointwise can name this input's activations later
    return g, x, InputInfo(id=stored.id, shape=list(x.shape[1:]), source=f"model-input:{spec.kind}")


def _macs(g: Graph) -> int:
    """The MACs of a whole forward pass: a run takes a heavy slot by this cost (app.compute.engine_slot;
    a run up to one tensor is charged the whole pass, an upper bound)."""
    return sum(r.cost.macs for r in cost_table(g))


def _preview(a: np.ndarray, channels: int) -> Optional[np.ndarray]:
    """The first channels of a (1, C, H, W) activation, strided down to at most 32×32; (1, F) → (1, 1, F)."""
    if channels == 0:
        return None
    if a.ndim == 4:
        step = max(1, -(-max(a.shape[2:]) // PREVIEW_SIDE))
        return np.ascontiguousarray(a[0, :channels, ::step, ::step])
    if a.ndim == 2 and a.shape[1] <= 4096:
        return a.reshape(1, 1, -1)
    return None


def _prediction(model_id: str, y: np.ndarray) -> Optional[Prediction]:
    v = y.reshape(-1).astype(np.float64)
    if v.size > 1000:
        return None
    probs = bool(v.min() >= 0 and v.max() <= 1 and abs(v.sum() - 1) < 1e-3)
    classes = builtin_meta(model_id)["classes"] if model_id in BUILTINS else [str(i) for i in range(v.size)]
    return Prediction(kind="probabilities" if probs else "scores", classes=classes, values=v.tolist(),
                      top=int(v.argmax()))


def _label(model_id: str, spec) -> Optional[str]:
    """A held-out test image's true class (_model_input has checked its index)."""
    if not isinstance(spec, TestImageInput):
        return None
    _, labels = builtin_test_set(model_id)
    return builtin_meta(model_id)["classes"][int(labels[spec.index])]


def run_model(model_id: str, req: RunRequest, store: ModelStore, inputs: InputStore, s: Settings
              ) -> tuple[RunResponse, Optional[Frame]]:
    g, x, info = _input(model_id, req.input, req.size, store, inputs, s)
    names = [n.outputs[0] for n in g.nodes]
    with engine_slot(_macs(g), s):
        roof = machine_roofline()  # measured on the first run of the process, in its slot, then cached
        values, ms = timed_run(g, {g.inputs[0]: x}, keep=names)
    total = sum(ms)
    frame = Frame() if req.encoding == "binary" else None
    layers = []
    for i, (node, r, t) in enumerate(zip(g.nodes, cost_table(g), ms)):
        a = finite(values[node.outputs[0]], f"the outputs of layer '{node.name[:100]}'")
        p = _preview(a, req.preview_channels)
        layers.append(LayerRun(index=i, name=node.name, op=node.op, output=node.outputs[0], shape=list(a.shape),
                               min=float(a.min()), max=float(a.max()), mean=float(a.mean(dtype=np.float64)),
                               time_ms=t, time_share=_share(t, total), macs=r.cost.macs,
                               macs_per_byte=r.cost.macs_per_byte,
                               macs_per_s=r.cost.macs / (t / 1e3) if r.cost.macs and t > 0 else None,
                               bound=roof.bound(r.cost.macs_per_byte) if r.cost.macs else None,
                               preview=None if p is None else encode_array(p, req.encoding, frame)))
    pw_ms = sum(t for r, t in zip(cost_table(g), ms) if r.is_1x1)
    shown = _preview(x, 3)
    return RunResponse(model=model_id, input=info, input_shape=list(x.shape),
                       input_preview=None if shown is None else encode_array(shown, req.encoding, frame),
                       prediction=_prediction(model_id, values[g.outputs[0]]), label=_label(model_id, req.input),
                       layers=layers, total_ms=total,
                       roofline=_roofline_info(roof, [r.macs_per_byte for r in layers if r.macs], s),
                       pointwise_time_share=_share(pw_ms, total)), frame


def _roofline_info(roof, intensities: list[float], s: Settings) -> RooflineInfo:
    """The measured roofs, and the polyline the page draws over the layers' range of intensities."""
    ridge = roof.ridge_macs_per_byte
    xs = sorted({min(intensities + [ridge]) / 2, ridge, max(intensities + [ridge]) * 2})
    return RooflineInfo(peak_macs_per_s=roof.peak_macs_per_s, bandwidth_bytes_per_s=roof.bandwidth_bytes_per_s,
                        ridge_macs_per_byte=ridge, gemm_n=roof.gemm_n, copy_bytes=roof.copy_bytes,
                        threads=s.compute_threads, gemm_threads=roof.gemm_threads, curve=[[x, roof.attainable_macs_per_s(x)] for x in xs])


def activation(model_id: str, req: ActivationRequest, store: ModelStore, inputs: InputStore, s: Settings) -> np.ndarray:
    """One tensor of the forward pass (batch axis dropped): a layer's input or output."""
    g, x, _ = _input(model_id, req.input, req.size, store, inputs, s)
    if req.tensor not in g.shapes or req.tensor in g.consts:
        raise NotFound(f"tensor '{req.tensor[:100]}' is not an activation of this model; GET /api/models/{model_id} "
                       "lists each layer's inputs and output")
    if req.tensor == g.inputs[0]:
        return x[0]
    with engine_slot(_macs(g), s):
        a = finite(run(g, {g.inputs[0]: x}, keep=[req.tensor])[req.tensor], f"tensor '{req.tensor[:100]}'")
    return a[0] if a.shape[0] == 1 and a.ndim > 1 else a


def model_graph_for(model_id: str, hw: tuple[int, int], store: ModelStore, s: Settings) -> tuple[Graph, str]:
    """A model's graph (parsed and shaped once per process) and its display name: at its own input size, or at
    ``hw`` = (H, W) where the file leaves the size dynamic. For other services (receptive fields) that walk
    a model's graph without running it."""
    check_model_id(model_id)
    m, _, name = _imported(model_id, store, s)
    size = None if all(isinstance(d, int) for d in m.input_dims[2:]) else (int(hw[0]), int(hw[1]))
    return _graph(model_id, size, store, s), name


def check_model_id(model_id: str) -> None:
    if model_id not in BUILTINS and not (len(model_id) == 64 and all(c in "0123456789abcdef" for c in model_id)):
        raise NotFound(f"unknown model '{model_id[:80]}'; built-in: {', '.join(BUILTINS)}, or an id from "
                       "POST /api/models/upload")


__all__ = ["BadModel", "list_models", "upload_model", "model_detail", "run_model", "activation", "model_info"]
