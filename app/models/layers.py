"""A model's Conv layer opened as a single convolution (issue 13): its real weights (BN folded where
that applies) and the activation it reads for an input, for /conv and /pointwise's "layer" weight kind
and "activation" input kind. Graphs and imports come from app.models.service, parsed once per process."""
from __future__ import annotations

import functools
import threading
from collections import OrderedDict
from pathlib import Path
from typing import Optional

import numpy as np

from app.compute import engine_slot, finite
from app.engine.graph import Graph, run
from app.errors import ConvlensError, NotFound
from app.inputs.store import InputStore
from app.models.service import BUILTINS, _graph, _imported, _input, _macs, check_model_id
from app.models.store import ModelStore
from app.schemas import InputInfo
from app.schemas_network import ConvLayerInfo, LayerView
from app.settings import Settings


def layer_view(model_id: str, req, store: ModelStore, inputs: InputStore, s: Settings):
    """A Conv layer's real weights and the activation it reads for this input, the latter stored in the
    input store so /conv and /pointwise open it like any upload."""
    g, _, info = _input(model_id, req.input, req.size, store, inputs, s)
    node = next((n for n in g.nodes if n.name == req.layer), None)
    if node is None or node.op != "Conv":
        raise NotFound(f"'{req.layer[:100]}' is not a Conv layer of this model; GET /api/models/{model_id} lists them")
    # through the activation cache: the page then opens /conv on {"kind": "activation", …, "input": info.id}
    # (the same content-addressed id), whose convolve finds this result instead of running the model again
    a = layer_input_activation(model_id, node.name, info.id, inputs, s)[None]
    stored = inputs.put(a[0])
    w = g.consts[node.inputs[1]]
    b = g.consts[node.inputs[2]] if len(node.inputs) > 2 and node.inputs[2] else None
    t, l, bt, r = node.attrs.get("pads", (0, 0, 0, 0))
    layer = {"out_channels": int(w.shape[0]), "kernel_size": [int(w.shape[2]), int(w.shape[3])],
             "stride": list(node.attrs.get("strides", (1, 1))), "dilation": list(node.attrs.get("dilations", (1, 1))),
             "padding": [t, l] if (t, l) == (bt, r) else [[t, bt], [l, r]], "groups": int(node.attrs.get("group", 1)),
             "bias": b is not None}
    return LayerView(input=InputInfo(id=stored.id, shape=list(a.shape[1:]), source=f"activation:{model_id}:{node.name}"),
                     layer=layer, weight=w.tolist(), bias=None if b is None else b.tolist(),
                     bn_folded=bool(node.attrs.get("bn_folded")), is_1x1=w.shape[2:] == (1, 1))


@functools.lru_cache(maxsize=1)
def _default_store(data_dir: Path, quota: int) -> ModelStore:
    return ModelStore(data_dir / "models", quota)


def layer_weights(model_id: str, layer: str, s: Settings) -> tuple[np.ndarray, Optional[np.ndarray]]:
    """A Conv layer's weight and bias, for the "layer" weight kind of /api/convolve. Uploaded models are
    looked up in the model store under the app's settings (its data_dir), as every other route does."""
    check_model_id(model_id)
    m = _imported(model_id, _default_store(s.data_dir, s.model_store_quota_bytes), s)[0]
    node = next((n for n in m.nodes if n.name == layer and n.op == "Conv"), None)
    if node is None:
        raise NotFound(f"'{layer[:100]}' is not a Conv layer of model '{model_id[:64]}'; GET /api/models/{model_id[:64]} "
                       "lists them")
    b = m.consts[node.inputs[2]] if len(node.inputs) > 2 and node.inputs[2] else None
    return m.consts[node.inputs[1]], b


def conv_layer_info(model_id: str, layer: str, store: ModelStore, s: Settings) -> ConvLayerInfo:
    """A Conv layer's name, weight shape and whether a BatchNormalization was folded into it: from the
    imported model alone (no input size, nothing run)."""
    check_model_id(model_id)
    m, _, name = _imported(model_id, store, s)
    node = next((n for n in m.nodes if n.name == layer and n.op == "Conv"), None)
    if node is None:
        raise NotFound(f"'{layer[:100]}' is not a Conv layer of model '{model_id[:64]}'; GET /api/models/{model_id[:64]} "
                       "lists them")
    w = m.consts[node.inputs[1]]
    folded = bool(node.attrs.get("bn_folded"))
    short = model_id if model_id in BUILTINS else name  # a built-in's title is a sentence; an upload's its file name
    return ConvLayerInfo(model=model_id, model_name=name, layer=layer, weight_shape=list(w.shape),
                         has_bias=len(node.inputs) > 2 and bool(node.inputs[2]), bn_folded=folded,
                         is_1x1=tuple(w.shape[2:]) == (1, 1),
                         label=f"layer {layer} of {short}" + (" (BN folded)" if folded else ""))


def _layer_source(model_id: str, layer: str, in_shape: tuple, s: Settings) -> tuple[Graph, str]:
    """The graph for a stored model input of shape (C, H, W) and the tensor that ``layer`` reads."""
    check_model_id(model_id)
    store = _default_store(s.data_dir, s.model_store_quota_bytes)
    m = _imported(model_id, store, s)[0]
    size = None if all(isinstance(d, int) for d in m.input_dims[2:]) else (int(in_shape[1]), int(in_shape[2]))
    g = _graph(model_id, size, store, s)
    if (1, *in_shape) != g.shapes[g.inputs[0]]:
        raise ConvlensError(f"this model input has shape {list(in_shape)}; model '{model_id[:64]}' takes "
                            f"{list(g.shapes[g.inputs[0]][1:])}")
    node = next((n for n in g.nodes if n.name == layer), None)
    if node is None:
        raise NotFound(f"'{layer[:100]}' is not a layer of model '{model_id[:64]}'; GET /api/models/{model_id[:64]} "
                       "lists them")
    src = node.inputs[0]
    if len(g.shapes[src]) != 4:
        raise ConvlensError(f"layer '{layer[:100]}' reads a tensor of shape {list(g.shapes[src])}, not a (C, H, W) map")
    return g, src


def layer_input_shape(model_id: str, layer: str, input_id: str, inputs: InputStore, s: Settings) -> tuple[int, int, int]:
    """The (C, H, W) that ``layer_input_activation`` would return, from shapes alone: layer checks run on
    every control change and must not run the model."""
    g, src = _layer_source(model_id, layer, tuple(inputs.info(input_id).shape), s)
    return tuple(int(d) for d in g.shapes[src][1:])


ACTIVATION_CACHE_BYTES = 64 << 20  # recent layer inputs kept for the pages' repeated convolve/trace calls
_activations: "OrderedDict[tuple, np.ndarray]" = OrderedDict()
_activations_lock = threading.Lock()


def layer_input_activation(model_id: str, layer: str, input_id: str, inputs: InputStore, s: Settings) -> np.ndarray:
    """The (C, H, W) activation a layer reads when the model runs on the stored model input ``input_id``
    (the "activation" input kind of /api/convolve). Model and input ids are content hashes, so a result
    never goes stale: the most recent ones are kept (at most ACTIVATION_CACHE_BYTES) for /conv's
    convolve and trace calls, which would otherwise each run the model again."""
    key = (str(s.data_dir), model_id, layer, input_id)
    with _activations_lock:
        if key in _activations:
            _activations.move_to_end(key)
            return _activations[key]
    x, _ = inputs.get(input_id)
    g, src = _layer_source(model_id, layer, tuple(x.shape), s)
    if src == g.inputs[0]:
        a = x[None]
    else:
        with engine_slot(_macs(g), s):
            a = run(g, {g.inputs[0]: x[None].astype(np.float32)}, keep=[src])[src]
    out = finite(a[0], f"the input of layer '{layer[:100]}'")
    out.setflags(write=False)  # shared between requests
    with _activations_lock:
        _activations[key] = out
        while sum(v.nbytes for v in _activations.values()) > ACTIVATION_CACHE_BYTES and len(_activations) > 1:
            _activations.popitem(last=False)
        if out.nbytes > ACTIVATION_CACHE_BYTES:
            _activations.pop(key, None)
    return out
