"""Every registered op, run as a one-node graph, against torch (the independent oracle), and the graph's
cost walk against torch's parameter count and FlopCounterMode's MACs."""
from __future__ import annotations

import numpy as np
import pytest
import torch
import torch.nn as nn
import torch.nn.functional as F
from hypothesis import assume, given, settings, strategies as st
from torch.utils.flop_counter import FlopCounterMode

from app.engine import GeometryError
from app.engine.fold import fold_batchnorm
from app.engine.geometry import pooled_size
from app.engine.graph import Budgets, BudgetError, build_graph, cost_table, run, timed_run
from app.engine.ops import REGISTRY, Node

torch.set_num_threads(1)


def close(ours, ref):
    ref = np.asarray(ref)
    assert ours.shape == ref.shape
    tol = 1e-4 * (1 + float(np.abs(ref).max(initial=0)))
    assert float(np.abs(ours.astype(np.float64) - ref).max(initial=0)) <= tol


def one_node(op, x, attrs=None, consts=None, n_inputs=None):
    """Run one node on input x; consts are its further inputs, in order."""
    consts = consts or []
    names = ["x"] + [f"c{i}" for i in range(len(consts))]
    node = Node("n", op, tuple(names), ("y",), attrs or {})
    g = build_graph([node], {"x": x.shape}, {f"c{i}": c for i, c in enumerate(consts)}, ["y"])
    y = run(g, {"x": x})["y"]
    assert tuple(y.shape) == g.shapes["y"]  # the shape rule predicts the forward's shape
    return y, g


@st.composite
def conv_case(draw):
    g = draw(st.integers(1, 3))
    c_in, c_out = g * draw(st.integers(1, 3)), g * draw(st.integers(1, 3))
    k = (draw(st.integers(1, 4)), draw(st.integers(1, 4)))
    d = (draw(st.integers(1, 2)), draw(st.integers(1, 2)))
    s = (draw(st.integers(1, 3)), draw(st.integers(1, 3)))
    pads = [draw(st.integers(0, 3)) for _ in range(4)]  # top, left, bottom, right: asymmetric
    h, w = draw(st.integers(1, 12)), draw(st.integers(1, 12))
    assume(h + pads[0] + pads[2] >= d[0] * (k[0] - 1) + 1 and w + pads[1] + pads[3] >= d[1] * (k[1] - 1) + 1)
    return g, c_in, c_out, k, d, s, pads, h, w, draw(st.booleans()), draw(st.integers(0, 2**31))


@given(conv_case())
@settings(max_examples=60, deadline=None)
def test_conv_matches_torch(case):
    g, c_in, c_out, k, d, s, pads, h, w, bias, seed = case
    rng = np.random.default_rng(seed)
    x = rng.standard_normal((1, c_in, h, w), dtype=np.float32)
    wt = rng.standard_normal((c_out, c_in // g, *k), dtype=np.float32)
    b = rng.standard_normal(c_out, dtype=np.float32)
    attrs = {"kernel_shape": k, "strides": s, "dilations": d, "pads": pads, "group": g}
    y, _ = one_node("Conv", x, attrs, [wt, b] if bias else [wt])
    t, l, btm, r = pads
    xp = F.pad(torch.from_numpy(x), (l, r, t, btm))  # torch pads (left, right, top, bottom)
    ref = F.conv2d(xp, torch.from_numpy(wt), torch.from_numpy(b) if bias else None, s, 0, d, g)
    close(y, ref.numpy())


@st.composite
def pool_case(draw):
    k = (draw(st.integers(1, 4)), draw(st.integers(1, 4)))
    s = (draw(st.integers(1, 3)), draw(st.integers(1, 3)))
    p = (draw(st.integers(0, k[0] // 2)), draw(st.integers(0, k[1] // 2)))
    h, w = draw(st.integers(k[0], 13)), draw(st.integers(k[1], 13))
    return k, s, p, h, w, draw(st.booleans()), draw(st.booleans()), draw(st.integers(0, 2**31))


@given(pool_case(), st.sampled_from(["MaxPool", "AveragePool"]))
@settings(max_examples=80, deadline=None)
def test_pools_match_torch(case, op):
    """torch's pools take symmetric padding; ceil_mode and count_include_pad as ONNX states them."""
    k, s, p, h, w, ceil, include, seed = case
    x = np.random.default_rng(seed).standard_normal((1, 3, h, w), dtype=np.float32)
    attrs = {"kernel_shape": k, "strides": s, "pads": [p[0], p[1], p[0], p[1]], "ceil_mode": int(ceil),
             "count_include_pad": int(include)}
    y, _ = one_node(op, x, attrs)
    xt = torch.from_numpy(x)
    ref = (F.max_pool2d(xt, k, s, p, ceil_mode=ceil) if op == "MaxPool"
           else F.avg_pool2d(xt, k, s, p, ceil_mode=ceil, count_include_pad=include))
    close(y, ref.numpy())


@given(st.integers(0, 2), st.integers(0, 2), st.integers(0, 2), st.integers(0, 2), st.booleans(), st.integers(0, 99))
@settings(max_examples=40, deadline=None)
def test_asymmetric_pool_pads_match_torch_on_padded_input(t, l, b, r, include, seed):
    """Asymmetric pads (which torch's pools lack): max pooling equals torch's on an input padded with −∞;
    average pooling that counts padding equals torch's on a zero-padded input."""
    x = np.random.default_rng(seed).standard_normal((1, 2, 7, 8), dtype=np.float32)
    attrs = {"kernel_shape": (3, 3), "strides": (2, 2), "pads": [t, l, b, r], "count_include_pad": 1}
    ymax, _ = one_node("MaxPool", x, attrs)
    yavg, _ = one_node("AveragePool", x, attrs)
    xt = torch.from_numpy(x)
    close(ymax, F.max_pool2d(F.pad(xt, (l, r, t, b), value=-np.inf), 3, 2).numpy())
    close(yavg, F.avg_pool2d(F.pad(xt, (l, r, t, b)), 3, 2).numpy())


def test_ceil_mode_drops_a_window_that_starts_in_padding():
    """PyTorch's (and ONNX's) rule. 6 wide, kernel 2, stride 2, pad 1: ⌈(6+2−2)/2⌉+1 = 4 windows; the 4th
    starts at 3·2 = 6 < 6 + 1, so it stays. 5 wide: ⌈5/2⌉+1 = 4, but the 4th starts at 6 ≥ 5 + 1: 3."""
    assert pooled_size(6, 2, 2, 1, 1, True) == 4 == F.max_pool2d(torch.zeros(1, 1, 6), 2, 2, 1, ceil_mode=True).shape[-1]
    assert pooled_size(5, 2, 2, 1, 1, True) == 3 == F.max_pool2d(torch.zeros(1, 1, 5), 2, 2, 1, ceil_mode=True).shape[-1]


ELEMENTWISE = {
    "Relu": (lambda x: F.relu(x), {}, []),
    "Identity": (lambda x: x, {}, []),
    "Softmax": (lambda x: F.softmax(x, -1), {}, []),
    "Softmax1": (lambda x: F.softmax(x, 1), {"axis": 1}, []),
    "GlobalAveragePool": (lambda x: x.mean((2, 3), keepdim=True), {}, []),
    "ReduceMean": (lambda x: x.mean((2, 3), keepdim=True), {"axes": [2, 3]}, []),
    "ReduceMeanInput": (lambda x: x.mean((-1,), keepdim=False), {"keepdims": 0}, [np.array([-1])]),
    "Flatten": (lambda x: x.flatten(1), {}, []),
    "Reshape": (lambda x: x.reshape(1, -1, 4), {}, [np.array([0, -1, 4])]),
    "Clip": (lambda x: x.clamp(0, 6), {}, [np.float32(0), np.float32(6)]),
    "ClipAttr": (lambda x: x.clamp(-0.5, 0.5), {"min": -0.5, "max": 0.5}, []),
    "Cast": (lambda x: x, {"to": 1}, []),
}


@pytest.mark.parametrize("name", ELEMENTWISE)
@given(seed=st.integers(0, 2**31), scale=st.floats(0.1, 50))
@settings(max_examples=10, deadline=None)
def test_unary_ops_match_torch(name, seed, scale):
    fn, attrs, consts = ELEMENTWISE[name]
    op = name.removesuffix("1").removesuffix("Input").removesuffix("Attr")
    x = (np.random.default_rng(seed).standard_normal((1, 3, 4, 8)) * scale).astype(np.float32)
    y, _ = one_node(op, x, attrs, [np.asarray(c) for c in consts])
    close(y, fn(torch.from_numpy(x)).numpy())


@pytest.mark.parametrize("op,fn", [("Add", torch.add), ("Sub", torch.sub), ("Mul", torch.mul), ("Div", torch.div)])
@given(seed=st.integers(0, 2**31), other=st.sampled_from([(1, 3, 4, 5), (3, 1, 1), (5,), (1, 1, 4, 1), ()]))
@settings(max_examples=10, deadline=None)
def test_binary_ops_broadcast_as_torch(op, fn, seed, other):
    rng = np.random.default_rng(seed)
    x = rng.standard_normal((1, 3, 4, 5), dtype=np.float32)
    c = np.asarray(rng.uniform(0.5, 2, other) * rng.choice([-1, 1], other), dtype=np.float32)
    y, _ = one_node(op, x, {}, [c])
    close(y, fn(torch.from_numpy(x), torch.from_numpy(c)).numpy())


def test_two_tensor_inputs_concat_and_add():
    rng = np.random.default_rng(0)
    a, b = rng.standard_normal((1, 2, 3, 3), dtype=np.float32), rng.standard_normal((1, 5, 3, 3), dtype=np.float32)
    nodes = [Node("r", "Relu", ("b",), ("rb",)), Node("cat", "Concat", ("a", "rb"), ("y",), {"axis": 1})]
    g = build_graph(nodes, {"a": a.shape, "b": b.shape}, {}, ["y"])
    close(run(g, {"a": a, "b": b})["y"], torch.cat([torch.from_numpy(a), F.relu(torch.from_numpy(b))], 1).numpy())


@given(seed=st.integers(0, 2**31), ta=st.booleans(), tb=st.booleans(), alpha=st.sampled_from([1.0, 0.5]),
       beta=st.sampled_from([1.0, 2.0]))
@settings(max_examples=20, deadline=None)
def test_gemm_and_matmul_match_torch(seed, ta, tb, alpha, beta):
    rng = np.random.default_rng(seed)
    x = rng.standard_normal((1, 6), dtype=np.float32)
    w = rng.standard_normal((4, 6) if tb else (6, 4), dtype=np.float32)
    c = rng.standard_normal(4, dtype=np.float32)
    a_in = x.T.copy() if ta else x
    y, g = one_node("Gemm", a_in, {"transA": int(ta), "transB": int(tb), "alpha": alpha, "beta": beta}, [w, c])
    wt = torch.from_numpy(w.T.copy() if tb else w)
    close(y, (alpha * torch.from_numpy(x) @ wt + beta * torch.from_numpy(c)).numpy())
    assert cost_table(g)[0].cost.macs == 1 * 6 * 4 and cost_table(g)[0].cost.params == 6 * 4 + 4
    ym, _ = one_node("MatMul", x, {}, [w if not tb else w.T.copy()])
    close(ym, (torch.from_numpy(x) @ wt).numpy())


def test_batchnorm_folds_into_the_conv_before_it():
    rng = np.random.default_rng(3)
    x = rng.standard_normal((1, 3, 6, 6), dtype=np.float32)
    conv, bn = nn.Conv2d(3, 4, 3, padding=1, bias=False), nn.BatchNorm2d(4)
    for p in (bn.weight, bn.bias, bn.running_mean):
        p.data = torch.randn(4)
    bn.running_var.data = torch.rand(4) + 0.5
    bn.eval()
    c = {"w": conv.weight.detach().numpy(), **{k: getattr(bn, a).detach().numpy() for k, a in
         (("g", "weight"), ("b", "bias"), ("m", "running_mean"), ("v", "running_var"))}}
    nodes = [Node("conv", "Conv", ("x", "w"), ("t",), {"kernel_shape": (3, 3), "pads": [1, 1, 1, 1]}),
             Node("bn", "BatchNormalization", ("t", "g", "b", "m", "v"), ("y",), {"epsilon": 1e-5})]
    nodes, consts = fold_batchnorm(nodes, c, {"y"})
    assert [n.op for n in nodes] == ["Conv"] and nodes[0].attrs["bn_folded"]
    g = build_graph(nodes, {"x": x.shape}, consts, ["y"])
    with torch.no_grad():
        close(run(g, {"x": x})["y"], bn(conv(torch.from_numpy(x))).numpy())


def test_a_batchnorm_after_relu_is_refused():
    nodes = [Node("r", "Relu", ("x",), ("t",)), Node("bn", "BatchNormalization", ("t", "g", "b", "m", "v"), ("y",))]
    with pytest.raises(GeometryError, match="bn"):
        fold_batchnorm(nodes, {k: np.ones(2, np.float32) for k in "gbmv"}, {"y"})


def test_cycles_dangling_names_and_budgets_are_refused():
    cyc = [Node("a", "Relu", ("q",), ("p",)), Node("b", "Relu", ("p",), ("q",))]
    with pytest.raises(GeometryError, match="cycle"):
        build_graph(cyc, {"x": (1, 1, 2, 2)}, {}, ["p"])
    with pytest.raises(GeometryError, match="no node, input or initializer"):
        build_graph([Node("a", "Relu", ("nope",), ("p",))], {"x": (1, 1, 2, 2)}, {}, ["p"])
    big = [Node("a", "Conv", ("x", "w"), ("y",), {})]
    with pytest.raises(BudgetError) as e:
        build_graph(big, {"x": (1, 1, 100, 100)}, {"w": np.zeros((1000, 1, 1, 1), np.float32)}, ["y"],
                    Budgets(max_tensor_elements=10**6))
    assert e.value.asked == 1000 * 100 * 100 and e.value.setting == "max_output_elements"
    with pytest.raises(BudgetError, match="MACs"):
        build_graph(big, {"x": (1, 1, 100, 100)}, {"w": np.zeros((10, 1, 1, 1), np.float32)}, ["y"],
                    Budgets(max_macs=10 * 100 * 100 - 1))


def test_every_registered_op_is_tested_here():
    tested = {"Conv", "MaxPool", "AveragePool", "Gemm", "MatMul", "Add", "Sub", "Mul", "Div", "Concat", "Constant",
              *(n.removesuffix("1").removesuffix("Input").removesuffix("Attr") for n in ELEMENTWISE),
              "ConvTranspose"}  # issue 15: against torch and onnxruntime in tests/test_onnx_conv_transpose.py
    assert set(REGISTRY) <= tested


class SmallNet(nn.Module):
    """Conv (grouped, dilated, strided), pools, a 1×1, a residual add, a concat, GAP and a linear layer."""
    def __init__(self):
        super().__init__()
        self.stem = nn.Conv2d(3, 8, 3, stride=2, padding=1)
        self.dw = nn.Conv2d(8, 8, 3, padding=2, dilation=2, groups=8, bias=False)
        self.pw = nn.Conv2d(8, 8, 1)
        self.side = nn.Conv2d(8, 4, 1)
        self.fc = nn.Linear(12, 5)

    def forward(self, x):
        x = F.relu(self.stem(x))
        x = F.max_pool2d(x, 3, 2, 1, ceil_mode=True)
        x = x + self.pw(F.relu(self.dw(x)))
        x = torch.cat([x, self.side(x)], 1)
        return self.fc(x.mean((2, 3)))


def small_net_graph(m: nn.Module, hw: int):
    """The same network written as graph nodes by hand, with torch's weights."""
    sd = {k: v.detach().numpy() for k, v in m.state_dict().items()}
    N = Node
    nodes = [N("stem", "Conv", ("x", "stem.weight", "stem.bias"), ("a",), {"strides": (2, 2), "pads": [1, 1, 1, 1]}),
             N("r1", "Relu", ("a",), ("b",)),
             N("pool", "MaxPool", ("b",), ("c",), {"kernel_shape": (3, 3), "strides": (2, 2), "pads": [1, 1, 1, 1],
                                                   "ceil_mode": 1}),
             N("dw", "Conv", ("c", "dw.weight"), ("d",), {"pads": [2, 2, 2, 2], "dilations": (2, 2), "group": 8}),
             N("r2", "Relu", ("d",), ("e",)),
             N("pw", "Conv", ("e", "pw.weight", "pw.bias"), ("f",)),
             N("add", "Add", ("c", "f"), ("g",)),
             N("side", "Conv", ("g", "side.weight", "side.bias"), ("h",)),
             N("cat", "Concat", ("g", "h"), ("i",), {"axis": 1}),
             N("gap", "ReduceMean", ("i",), ("j",), {"axes": [2, 3], "keepdims": 0}),
             N("fc", "Gemm", ("j", "fc.weight", "fc.bias"), ("y",), {"transB": 1})]
    return build_graph(nodes, {"x": (1, 3, hw, hw)}, sd, ["y"])


def test_graph_cost_equals_torch_params_and_flop_counter_macs():
    m = SmallNet().eval()
    g = small_net_graph(m, 20)
    rows = cost_table(g)
    x = torch.randn(1, 3, 20, 20)
    with FlopCounterMode(display=False) as fc:
        ref = m(x)
    assert sum(r.cost.params for r in rows) == sum(p.numel() for p in m.parameters())
    assert sum(r.cost.macs for r in rows) * 2 == fc.get_total_flops()  # FlopCounterMode counts 2 FLOPs a MAC
    out, ms = timed_run(g, {"x": x.numpy()}, keep=["a", "i"])
    close(out["y"], ref.detach().numpy())
    assert len(ms) == len(g.nodes) and set(out) == {"a", "i", "y"}
    assert [r.is_1x1 for r in rows if r.node.op == "Conv"] == [False, False, True, True]


def test_element_counts_are_exact_past_int64():
    """A budget check on a wrapped count would let a huge declared tensor through."""
    from app.engine.ops import numel
    assert numel((2**32, 2**32)) == 2**64
    assert numel((1, 3, 4)) == 12 and numel(()) == 1


def test_a_reshape_refusal_prints_plain_numbers():
    """The target comes from an int64 initializer; its message names -5, not np.int64(-5)."""
    import numpy as np
    import pytest

    from app.engine.errors import GeometryError
    from app.engine.ops.shape import reshape_target
    with pytest.raises(GeometryError, match=r"target \[-5, 0\] may hold one −1"):
        reshape_target("r", (1, 1, 1, 5), np.array([-5, 0], np.int64), False)
