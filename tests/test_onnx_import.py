"""ONNX import: every activation of every test architecture equals onnxruntime's, random small graphs
too (hypothesis), the cost table equals torch's parameter count and FlopCounterMode's MACs, and a
corpus of hostile models is refused with a clear 4xx."""
from __future__ import annotations

import numpy as np
import onnx
import onnxruntime as ort
import pytest
import torch
import torch.nn as nn
from hypothesis import HealthCheck, given, settings as hsettings, strategies as st
from onnx import TensorProto, helper, numpy_helper
from torch.utils.flop_counter import FlopCounterMode

from app.engine.geometry import pooled_size
from app.engine.graph import cost_table, run
from app.engine.ops import op_of
from app.errors import ConvlensError
from app.models.onnx_import import model_graph, parse_model
from app.settings import Settings
from tests.hostile_models import CORPUS, model
from tests.onnx_models import ARCHITECTURES, build, export

torch.set_num_threads(1)
S = Settings()


def ort_all_outputs(data: bytes, x: np.ndarray, names: list[str]) -> dict[str, np.ndarray]:
    """onnxruntime's value of every named tensor: each is made a graph output (optimisations off, so
    none is fused away). Only test-made models are ever given to onnxruntime."""
    m = onnx.load_model_from_string(data)
    present = {o.name for o in m.graph.output}
    m.graph.output.extend(helper.make_tensor_value_info(n, TensorProto.FLOAT, None) for n in names if n not in present)
    opts = ort.SessionOptions()
    opts.graph_optimization_level = ort.GraphOptimizationLevel.ORT_DISABLE_ALL
    sess = ort.InferenceSession(m.SerializeToString(), opts, providers=["CPUExecutionProvider"])
    outs = [o.name for o in sess.get_outputs()]
    return dict(zip(outs, sess.run(outs, {sess.get_inputs()[0].name: x})))


def assert_close(ours, ref, name):
    assert ours.shape == ref.shape, name
    tol = 1e-4 * (1 + float(np.abs(ref).max(initial=0)))
    err = float(np.abs(ours.astype(np.float64) - ref).max(initial=0))
    assert err <= tol, f"{name}: max |ours − onnxruntime| = {err} > {tol}"


def check_against_ort(data: bytes, x: np.ndarray) -> int:
    m = parse_model(data, S)
    g = model_graph(m, None, S)
    names = [o for n in g.nodes if n.op not in ("Constant", "Cast") for o in n.outputs]
    ours = run(g, {m.input_name: x}, keep=names)
    ref = ort_all_outputs(data, x, names)
    for n in names:
        assert_close(ours[n], ref[n], n)
    return len(names)


@pytest.fixture(scope="module", params=sorted(ARCHITECTURES))
def arch(request):
    m = build(request.param)
    x = torch.randn(1, 3, 32, 32, generator=torch.Generator().manual_seed(1))
    return request.param, m, x


@pytest.mark.parametrize("keep_bn", [True, False], ids=["torchscript+BN", "dynamo"])
def test_every_activation_equals_onnxruntime(arch, keep_bn):
    name, m, x = arch
    data = export(m, x, keep_bn)
    assert check_against_ort(data, x.numpy()) >= 4
    with torch.no_grad():  # and the final output equals torch's own
        ref = m(x).numpy()
    pm = parse_model(data, S)
    assert_close(run(model_graph(pm, None, S), {pm.input_name: x.numpy()})[pm.outputs[0]], ref, name)


def test_batchnorm_is_folded_and_marked(arch):
    name, m, x = arch
    pm = parse_model(export(m, x, keep_bn=True), S)
    n_bn = sum(isinstance(mod, nn.BatchNorm2d) for mod in m.modules())
    assert sum(bool(n.attrs.get("bn_folded")) for n in pm.nodes) == n_bn
    assert not any(n.op == "BatchNormalization" for n in pm.nodes)


def test_what_constant_nodes_compute_is_folded_at_load(arch):
    """torch exports a ReLU6's bounds as Cast(Constant) nodes: folded at load, they are not layers of the
    network's table, and the Clip knows its bounds, so it runs fused into the Conv before it."""
    name, m, x = arch
    pm = parse_model(export(m, x, keep_bn=True), S)
    assert not any(n.op in ("Constant", "Cast") for n in pm.nodes)
    g = model_graph(pm, None, S)
    for n in (n for n in g.nodes if n.op == "Clip"):
        assert op_of(n).clip_bounds(n, [g.consts.get(x) for x in n.inputs]) == (0.0, 6.0), n.name


def test_cost_table_equals_torch_params_and_flop_counter(arch):
    """After folding, each BN's γ, β become its conv's bias: params = conv weights + one bias per conv
    output channel + linear layers, which is what torch counts once each BN is fused into its conv."""
    name, m, x = arch
    pm = parse_model(export(m, x, keep_bn=True), S)
    rows = cost_table(model_graph(pm, None, S))
    convs = [mod for mod in m.modules() if isinstance(mod, nn.Conv2d)]
    linears = [mod for mod in m.modules() if isinstance(mod, nn.Linear)]
    expected = sum(c.weight.numel() + c.out_channels for c in convs) + sum(p.numel() for l in linears for p in l.parameters())
    assert sum(r.cost.params for r in rows) == expected
    assert pm.params == expected  # the model's own count: a ReLU6's bounds, folded from Constant nodes, are not weights
    with FlopCounterMode(display=False) as fc, torch.no_grad():
        m(x)
    assert 2 * sum(r.cost.macs for r in rows) == fc.get_total_flops()


# ---- random small graphs, built with onnx.helper ------------------------------------------------

@st.composite
def random_graph(draw):
    rng = np.random.default_rng(draw(st.integers(0, 2**31)))
    c, h, w = draw(st.integers(1, 6)), draw(st.integers(5, 12)), draw(st.integers(5, 12))
    nodes, inits, cur, shape = [], [], "x", (1, c, h, w)
    x_shape = shape
    onnx_disagrees = False  # see the pool branch

    def const(name, arr):
        """An initializer, or a Constant node, or a Cast of a float64 Constant (how torch exports a
        ReLU6's bounds): the last two are folded at load."""
        how = draw(st.sampled_from(["initializer", "initializer", "Constant", "Cast(Constant)"]))
        if how == "initializer":
            inits.append(numpy_helper.from_array(np.asarray(arr), name))
        elif how == "Constant":
            nodes.append(helper.make_node("Constant", [], [name], value=numpy_helper.from_array(np.asarray(arr))))
        else:
            raw = numpy_helper.from_array(np.asarray(arr, np.float64))
            nodes.append(helper.make_node("Constant", [], [f"{name}_f64"], value=raw))
            nodes.append(helper.make_node("Cast", [f"{name}_f64"], [name], to=TensorProto.FLOAT))
        return name

    for i in range(draw(st.integers(1, 6))):
        kind = draw(st.sampled_from(["conv", "conv", "relu", "clip", "pool", "pool", "binary", "concat", "gap"]))
        out = f"t{i}"
        c, hh, ww = shape[1], shape[2], shape[3]
        if kind == "conv":
            g = draw(st.sampled_from([d for d in range(1, c + 1) if c % d == 0]))
            co = g * draw(st.integers(1, 3))
            k = (draw(st.integers(1, min(3, hh))), draw(st.integers(1, min(3, ww))))
            pads = [draw(st.integers(0, 2)) for _ in range(4)]
            s = (draw(st.integers(1, 2)), draw(st.integers(1, 2)))
            wt = const(f"w{i}", rng.standard_normal((co, c // g, *k)).astype(np.float32))
            b = [const(f"b{i}", rng.standard_normal(co).astype(np.float32))] if draw(st.booleans()) else []
            nodes.append(helper.make_node("Conv", [cur, wt, *b], [out], kernel_shape=k, pads=pads, strides=s, group=g))
            shape = (1, co, (hh + pads[0] + pads[2] - k[0]) // s[0] + 1, (ww + pads[1] + pads[3] - k[1]) // s[1] + 1)
        elif kind == "relu":
            nodes.append(helper.make_node("Relu", [cur], [out]))
        elif kind == "clip":
            nodes.append(helper.make_node("Clip", [cur, const(f"lo{i}", np.float32(-0.5)), const(f"hi{i}", np.float32(1))], [out]))
        elif kind == "pool":  # kernels of 2 or 3 where they fit, so pads (< kernel) are often non-zero
            k = (draw(st.integers(min(2, hh), min(3, hh))), draw(st.integers(min(2, ww), min(3, ww))))
            pads = [draw(st.integers(0, k[0] - 1)), draw(st.integers(0, k[1] - 1)),
                    draw(st.integers(0, k[0] - 1)), draw(st.integers(0, k[1] - 1))]
            s, ceil = (draw(st.integers(1, 2)), draw(st.integers(1, 2))), draw(st.booleans())
            op = draw(st.sampled_from(["MaxPool", "AveragePool"]))
            extra = {"count_include_pad": int(draw(st.booleans()))} if op == "AveragePool" else {}
            nodes.append(helper.make_node(op, [cur], [out], kernel_shape=k, pads=pads, strides=s, ceil_mode=int(ceil), **extra))
            shape = (1, c, pooled_size(hh, k[0], s[0], pads[0], pads[2], ceil), pooled_size(ww, k[1], s[1], pads[1], pads[3], ceil))
            # ONNX's shape inference omits ceil mode's rule that the last window starts inside the input (onnxruntime's
            # kernel and torch apply it, and so does pooled_size): after such a pool its static H, W are one too many, and
            # a constant of the real H or W makes onnxruntime refuse the graph before running it.
            naive = tuple(-(-(n + a + b - kk) // ss) + 1 if ceil else shape[2 + i]
                          for i, (n, kk, ss, a, b) in enumerate([(hh, k[0], s[0], pads[0], pads[2]), (ww, k[1], s[1], pads[1], pads[3])]))
            onnx_disagrees = onnx_disagrees or naive != shape[2:]
        elif kind == "binary":
            op = draw(st.sampled_from(["Add", "Sub", "Mul", "Div"]))
            other = draw(st.sampled_from([(1, c, 1, 1)] if onnx_disagrees else [(1, c, 1, 1), (ww,), (1, 1, hh, ww)]))
            v = (rng.uniform(0.5, 2, other) * rng.choice([-1, 1], other)).astype(np.float32)
            nodes.append(helper.make_node(op, [cur, const(f"k{i}", v)], [out]))
        elif kind == "concat":
            nodes.append(helper.make_node("Relu", [cur], [f"r{i}"]))
            nodes.append(helper.make_node("Concat", [cur, f"r{i}"], [out], axis=1))
            shape = (1, 2 * c, hh, ww)
        else:
            nodes.append(helper.make_node("GlobalAveragePool", [cur], [out]))
            shape = (1, c, 1, 1)
        cur = out
    x = helper.make_tensor_value_info("x", TensorProto.FLOAT, list(x_shape))
    graph = helper.make_graph(nodes, "random", [x], [helper.make_tensor_value_info(cur, TensorProto.FLOAT, None)], inits)
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 13)], ir_version=10)
    return model.SerializeToString(), x_shape


@given(random_graph(), st.integers(0, 2**31))
@hsettings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
def test_random_graphs_equal_onnxruntime(model, seed):
    data, x_shape = model
    x = np.random.default_rng(seed).standard_normal(x_shape).astype(np.float32)
    check_against_ort(data, x)


# ---- hostile models ------------------------------------------------------------------------------

@pytest.mark.parametrize("name", sorted(CORPUS))
def test_hostile_models_are_refused_with_a_clear_message(name):
    make, status, words = CORPUS[name]
    with pytest.raises(ConvlensError) as e:
        model_graph(parse_model(make(), S), None, S)
    assert e.value.status_code == status, e.value.message
    for w in words:  # a limit's setting is in `limit` (the JSON field), the message is for people
        assert getattr(e.value, "limit", None) == f"CONVLENS_{w}" if w.startswith("MAX_") else w in e.value.message, \
            e.value.message
    assert "CONVLENS_" not in e.value.message


def test_a_dynamic_size_needs_a_chosen_size():
    m = parse_model(model([helper.make_node("Relu", ["x"], ["y"])], x_shape=("N", 3, "H", "W")), S)
    with pytest.raises(ConvlensError, match="dynamic"):
        model_graph(m, None, S)
    assert model_graph(m, (5, 7), S).shapes["y"] == (1, 3, 5, 7)
