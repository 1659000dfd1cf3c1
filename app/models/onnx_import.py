"""An uploaded ONNX file → the engine's graph, treating the file as hostile.

The bytes are parsed with onnx's protobuf classes only (never from a path, never handed to onnxruntime,
which would read files named by external-data entries). Everything is checked from declared sizes
before a value is decoded: the node count, the op whitelist (the engine's registry, plus
BatchNormalization, which is folded into its Conv; what Constant nodes alone compute is folded too),
no functions, subgraphs, sparse or external tensors, no domain but the default one, and each
initializer's bytes against its declared shape. Shapes are then
propagated for the chosen input size with the element, MAC and activation-memory budgets
(app.engine.graph.build_graph) before anything runs.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Optional

import numpy as np
import onnx
from google.protobuf.message import DecodeError

from app.engine.errors import GeometryError
from app.engine.fold import fold_batchnorm, fold_constants
from app.engine.graph import BudgetError, Budgets, Graph, build_graph
from app.engine.ops import REGISTRY, Node
from app.errors import ConvlensError, LimitExceeded, check_limit
from app.settings import Settings

FOLDED_OPS = {"BatchNormalization"}
# ONNX data type → (NumPy dtype of the raw bytes, the typed field that may hold the values instead)
DTYPES = {1: (np.float32, "float_data"), 11: (np.float64, "double_data"), 10: (np.float16, "int32_data"),
          6: (np.int32, "int32_data"), 7: (np.int64, "int64_data")}


class BadModel(ConvlensError):
    status_code = 422
    code = "bad_model"


@dataclass(frozen=True)
class ImportedModel:
    """A checked, decoded model, independent of the input size."""
    nodes: tuple[Node, ...]                   # BatchNormalization folded away
    consts: dict                              # name → float32 / int64 array, decoded once
    input_name: str
    input_dims: tuple                         # declared [N, C, H, W]: ints, or a str for a named dynamic axis
    outputs: tuple[str, ...]
    opset: int
    producer: str
    computed: frozenset = frozenset()         # consts computed at load from Constant nodes (fold_constants)

    @property
    def params(self) -> int:
        """Float values the file stores as weights (a ReLU6's bounds folded from Constant nodes are not)."""
        return sum(v.size for k, v in self.consts.items() if v.dtype.kind == "f" and k not in self.computed)


def _refuse(msg: str) -> BadModel:
    return BadModel(msg)


def parse_model(data: bytes, s: Settings) -> ImportedModel:
    check_limit("model size in bytes", len(data), s.max_model_bytes, "max_model_bytes")
    model = onnx.ModelProto()
    try:
        model.ParseFromString(bytes(data))
    except (DecodeError, ValueError, RuntimeError) as e:
        raise _refuse(f"not a readable ONNX model (protobuf parse failed: {str(e)[:200]}); "
                      "export one with torch.onnx.export(..., external_data=False)") from None
    g = model.graph
    if not g.node:
        raise _refuse("the model has no nodes (is this an ONNX file?)")
    check_limit("node count", len(g.node), s.max_model_nodes, "max_model_nodes")
    _check_structure(model)
    consts = _initializers(g, s)
    nodes = _nodes(g, consts, s)
    real_inputs = [i for i in g.input if i.name not in consts]
    if len(real_inputs) != 1:
        raise _refuse(f"the model must have exactly one input tensor; it has {len(real_inputs)} "
                      f"({', '.join(i.name for i in real_inputs[:5])})")
    inp = real_inputs[0]
    dims = _input_dims(inp)
    outputs = tuple(o.name for o in g.output)
    try:
        nodes, consts, computed = fold_constants(nodes, consts, set(outputs), s.max_model_params)
        nodes, consts = fold_batchnorm(nodes, consts, set(outputs))
    except BudgetError as e:
        raise LimitExceeded(e.what, e.asked, e.limit, e.setting) from None
    except GeometryError as e:
        raise _refuse(str(e)) from None
    used = {x for n in nodes for x in n.inputs}
    consts = {k: v for k, v in consts.items() if k in used}  # drop the unfolded weights and unused tensors
    opset = next((o.version for o in model.opset_import if o.domain in ("", "ai.onnx")), 0)
    return ImportedModel(tuple(nodes), consts, inp.name, dims, outputs, opset, model.producer_name[:80],
                         computed & consts.keys())


def _check_text(model: onnx.ModelProto) -> None:
    """Every name the importer keeps is text: protobuf hands back a string field that is not valid UTF-8
    (a damaged or hand-made file) as bytes, which then failed deep in the answer's validation (a 500)."""
    g = model.graph
    named = [("the producer name", model.producer_name)]
    named += [("a graph input's name", v.name) for v in (*g.input, *g.output)]
    named += [("an initializer's name", t.name) for t in g.initializer]
    for n in g.node:
        named += [("a node's name", n.name), ("a node's op type", n.op_type), ("a node's domain", n.domain)]
        named += [("a node's input or output name", x) for x in (*n.input, *n.output)]
        named += [("an attribute's name", a.name) for a in n.attribute]
    for what, value in named:
        if not isinstance(value, str):
            raise _refuse(f"{what} is not valid UTF-8 text ({bytes(value)[:40]!r}); is the file damaged?")


def _check_structure(model: onnx.ModelProto) -> None:
    _check_text(model)
    g = model.graph
    if len(model.functions):
        raise _refuse(f"model-local functions are not supported ({len(model.functions)} defined); export "
                      "without custom functions")
    if len(g.sparse_initializer):
        raise _refuse("sparse initializers are not supported; export dense weights")
    domains = {o.domain for o in model.opset_import} - {"", "ai.onnx"}
    if domains:
        raise _refuse(f"only the default ONNX domain is supported; the model imports {', '.join(sorted(domains))}")
    unknown, custom = set(), set()
    for n in g.node:
        if n.domain not in ("", "ai.onnx"):
            custom.add(f"{n.domain}.{n.op_type}")
        elif n.op_type not in REGISTRY and n.op_type not in FOLDED_OPS:
            unknown.add(n.op_type)
        for a in n.attribute:
            if a.type in (onnx.AttributeProto.GRAPH, onnx.AttributeProto.GRAPHS) or a.HasField("g") or len(a.graphs):
                raise _refuse(f"node '{n.name}' ({n.op_type}) holds a subgraph; control flow (Loop, If, Scan) "
                              "is not supported")
    if custom:
        raise _refuse(f"ops from a custom domain are not supported: {', '.join(sorted(custom))}")
    if unknown:
        raise _refuse(f"unsupported ops: {', '.join(sorted(unknown))}; supported: "
                      f"{', '.join(sorted(REGISTRY.keys() | FOLDED_OPS))}")


def decode_tensor(t: onnx.TensorProto, what: str) -> np.ndarray:
    """Values of one tensor, after checking its declared shape against its bytes; never reads a file."""
    if t.data_location == onnx.TensorProto.EXTERNAL or len(t.external_data):
        where = next((e.value for e in t.external_data if e.key == "location"), "?")
        raise _refuse(f"{what} '{t.name}' refers to external data (location '{where[:100]}'); upload one "
                      "file: torch.onnx.export(..., external_data=False)")
    if t.HasField("segment"):
        raise _refuse(f"{what} '{t.name}' is segmented; this is not supported")
    if t.data_type not in DTYPES:
        raise _refuse(f"{what} '{t.name}' has ONNX data type {t.data_type}; supported: float32, float64, "
                      "float16, int32, int64")
    dims = list(t.dims)
    if any(d < 0 for d in dims):
        raise _refuse(f"{what} '{t.name}' declares a negative dimension {dims}")
    count = 1
    for d in dims:
        count *= d
    dtype, field = DTYPES[t.data_type]
    if t.raw_data:
        if len(t.raw_data) != count * np.dtype(dtype).itemsize:
            raise _refuse(f"{what} '{t.name}' declares shape {dims} ({count:,} values, "
                          f"{count * np.dtype(dtype).itemsize:,} bytes) but holds {len(t.raw_data):,} bytes")
        arr = np.frombuffer(t.raw_data, dtype=np.dtype(dtype).newbyteorder("<"))
    else:
        values = getattr(t, field)
        if len(values) != count:
            raise _refuse(f"{what} '{t.name}' declares shape {dims} ({count:,} values) but holds {len(values):,}")
        arr = (np.asarray(values, dtype=np.int32).astype(np.uint16).view(np.float16) if t.data_type == 10
               else np.asarray(values, dtype=dtype))
    arr = arr.reshape(dims)
    return arr.astype(np.int64) if arr.dtype.kind in "iu" else arr.astype(np.float32)


def _initializers(g: onnx.GraphProto, s: Settings) -> dict[str, np.ndarray]:
    declared = 0
    for t in g.initializer:
        n = 1
        for d in t.dims:
            n *= max(int(d), 0)
        declared += n
    check_limit("weight values declared by the initializers", declared, s.max_model_params, "max_model_params")
    out = {}
    for t in g.initializer:
        if t.name in out:
            raise _refuse(f"initializer '{t.name}' is defined twice")
        out[t.name] = decode_tensor(t, "initializer")
    return out


def _attr(a: onnx.AttributeProto, node_name: str):
    A = onnx.AttributeProto
    if a.type == A.INT:
        return int(a.i)
    if a.type == A.FLOAT:
        return float(a.f)
    if a.type == A.STRING:
        return a.s.decode("utf-8", "replace")
    if a.type == A.INTS:
        return tuple(int(v) for v in a.ints)
    if a.type == A.FLOATS:
        return tuple(float(v) for v in a.floats)
    if a.type == A.TENSOR:
        return decode_tensor(a.t, f"attribute {a.name} of node '{node_name}':")
    raise _refuse(f"node '{node_name}': attribute {a.name} of type {A.AttributeType.Name(a.type)} is not supported")


def _constant_value(attrs: dict, name: str) -> np.ndarray:
    for key, conv in (("value", None), ("value_float", np.float32), ("value_floats", np.float32),
                      ("value_int", np.int64), ("value_ints", np.int64)):
        if key in attrs:
            return attrs[key] if conv is None else np.asarray(attrs[key], dtype=conv)
    raise _refuse(f"Constant node '{name}' has no supported value attribute (value, value_float(s), value_int(s))")


def _nodes(g: onnx.GraphProto, consts: dict, s: Settings) -> list[Node]:
    nodes, seen, const_values = [], set(), 0
    for i, n in enumerate(g.node):
        name = n.name or f"{n.op_type}_{i}"
        while name in seen:
            name = f"{name}_{i}"
        seen.add(name)
        attrs = {a.name: _attr(a, name) for a in n.attribute}
        if n.op_type == "Constant":
            attrs = {"value": _constant_value(attrs, name)}
            const_values += attrs["value"].size
            check_limit("values held by Constant nodes", const_values, s.max_model_params, "max_model_params")
        nodes.append(Node(name, n.op_type, tuple(n.input), tuple(n.output), attrs))
    return nodes


def _input_dims(inp: onnx.ValueInfoProto) -> tuple:
    t = inp.type.tensor_type
    if not inp.type.HasField("tensor_type") or t.elem_type != onnx.TensorProto.FLOAT:
        raise _refuse(f"input '{inp.name}' must be a float32 tensor")
    dims = tuple(int(d.dim_value) if d.HasField("dim_value") else (d.dim_param or "?") for d in t.shape.dim)
    if len(dims) != 4:
        raise _refuse(f"input '{inp.name}' must be [N, C, H, W]; it is declared {list(dims)}")
    if not isinstance(dims[1], int) or dims[1] < 1:
        raise _refuse(f"input '{inp.name}' must declare its channel count; it is declared {list(dims)}")
    if isinstance(dims[0], int) and dims[0] != 1:
        raise _refuse(f"input '{inp.name}' has batch size {dims[0]}; export with batch size 1 or a dynamic batch")
    return dims


def input_shape(m: ImportedModel, size: Optional[tuple[int, int]], s: Settings) -> tuple[int, int, int, int]:
    """[1, C, H, W]: a dynamic batch becomes 1, dynamic H and W take ``size``; a static H or W must equal it."""
    _, c, h, w = m.input_dims
    hw = []
    for axis, declared, asked in (("height", h, size and size[0]), ("width", w, size and size[1])):
        if isinstance(declared, int):
            if asked and asked != declared:
                raise BadModel(f"this model's input {axis} is fixed at {declared}; it cannot run at {asked}")
            hw.append(declared)
        elif asked:
            hw.append(int(asked))
        else:
            raise BadModel(f"this model's input {axis} is dynamic ('{declared}'); choose an input size")
    check_limit("input height", hw[0], s.max_height, "max_height")
    check_limit("input width", hw[1], s.max_width, "max_width")
    check_limit("input channels", c, s.max_channels, "max_channels")
    check_limit("input elements C·H·W", c * hw[0] * hw[1], s.max_input_elements, "max_input_elements")
    return (1, c, hw[0], hw[1])


def budgets(s: Settings) -> Budgets:
    return Budgets(max_tensor_elements=s.max_output_elements, max_activation_bytes=s.max_model_activation_bytes,
                   max_macs=s.max_model_macs, max_nodes=s.max_model_nodes)


def model_graph(m: ImportedModel, size: Optional[tuple[int, int]], s: Settings) -> Graph:
    """The engine's graph at one input size; budgets checked while shapes propagate, before any run."""
    shape = input_shape(m, size, s)
    try:
        return build_graph(m.nodes, {m.input_name: shape}, m.consts, m.outputs, budgets(s))
    except BudgetError as e:
        raise LimitExceeded(e.what, e.asked, e.limit, e.setting) from None
    except GeometryError as e:
        raise BadModel(f"at input {list(shape)}: {e}") from None
