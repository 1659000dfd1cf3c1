"""Cost-lab designs and paper architectures are layer graphs: their cost rows are the graph's cost table,
and they equal torch's parameter count and FlopCounterMode's MACs for a torch.nn module of the same
design (app.torch_code writes it); the lowered graph computes what that module computes."""
from __future__ import annotations

import tracemalloc
from collections import Counter

import numpy as np
import pytest
import torch
from hypothesis import given, settings, strategies as st
from torch.utils.flop_counter import FlopCounterMode

from app.designs import ARCHITECTURES, COMPARISONS, architecture, resnet50
from app.engine.design import Add, Block, Concat, Conv, Fc, Pool, Relu
from app.engine.graph import Budgets, build_graph, cost_table, run
from app.engine.lower_design import INPUT, design_cost, lower, lowered_cost
from app.engine.ops import REGISTRY
from app.measure import with_weights
from app.torch_code import torch_source

# ---- small designs, drawn valid by construction ------------------------------------------------------


def _out(size: int, k: int, s: int, p: int) -> int:
    return (size + 2 * p - k) // s + 1  # torch's output size, written out for the generator only


def _conv(data, c, h, w, keep: str):
    """keep: "" (anything), "hw" (H×W kept: concat branches), "chw" (the whole shape: add branches)."""
    k = data.draw(st.sampled_from([1, 3] if keep else [1, 2, 3]))
    if k > min(h, w):
        k = 1
    out = c if keep == "chw" else data.draw(st.integers(1, 6))
    stride = 1 if keep else data.draw(st.integers(1, 2))
    padding = k // 2 if keep else data.draw(st.sampled_from([0, 1] + (["same"] if stride == 1 else [])))
    groups = data.draw(st.sampled_from([1] + ([0] if c > 1 and out % c == 0 else [])
                                       + [g for g in (2, 3) if c % g == 0 and out % g == 0]))
    layer = Conv(out, k, stride, padding, groups, data.draw(st.booleans()))
    if padding == "same":
        return layer, (out, h, w)
    return layer, (out, _out(h, k, stride, padding), _out(w, k, stride, padding))


def _pool(data, c, h, w, keep: str):
    kind = data.draw(st.sampled_from(["max", "avg"]))
    if keep:
        return Pool(3, 1, 1, kind), (c, h, w)
    k = data.draw(st.integers(1, min(3, h, w)))
    stride = data.draw(st.sampled_from([None, 1, 2]))
    p = data.draw(st.integers(0, k // 2))
    s = k if stride is None else stride
    return Pool(k, stride, p, kind), (c, _out(h, k, s, p), _out(w, k, s, p))


def _sequence(data, shape, depth: int, keep: str, most: int):
    layers = []
    for _ in range(data.draw(st.integers(0 if keep else 1, most))):
        c, h, w = shape
        kinds = ["conv", "pool", "relu"] + (["add", "block"] if depth < 2 else []) \
            + (["concat"] if depth < 2 and keep != "chw" else []) \
            + (["fc"] if not keep and depth == 0 else [])
        kind = data.draw(st.sampled_from(kinds))
        if kind == "conv":
            layer, shape = _conv(data, c, h, w, keep)
        elif kind == "pool":
            layer, shape = _pool(data, c, h, w, keep)
        elif kind == "relu":
            layer = Relu()
        elif kind == "fc":
            layer = Fc(data.draw(st.integers(1, 5)), data.draw(st.booleans()))
            shape = (layer.out, 1, 1)
        elif kind == "block":
            inner, shape = _sequence(data, shape, depth + 1, keep, 2)
            layer = Block(tuple(inner), "block")
        else:  # branches read the same input; concat keeps H×W, add the whole shape
            ends = [_sequence(data, shape, depth + 1, "chw" if kind == "add" or keep == "chw" else "hw", 2)
                    for _ in range(data.draw(st.integers(1, 3)))]
            branches = tuple(tuple(b) for b, _ in ends)
            if kind == "add":
                layer = Add(branches, "add")
            else:
                layer = Concat(branches, "concat")
                shape = (sum(s[0] for _, s in ends), h, w)
        layers.append(layer)
    return layers, shape


def _torch_module(layers, shape, device="cpu"):
    scope: dict = {}
    with torch.device(device):
        exec(torch_source("design", lower(tuple(layers), shape)), scope)  # noqa: S102 (our own generated source)
    return scope["model"].eval()


def _weighted(model) -> list:
    return [m for m in model.modules() if isinstance(m, (torch.nn.Conv2d, torch.nn.Linear))]


@settings(max_examples=60, deadline=None)
@given(st.data())
def test_design_rows_are_the_graph_cost_and_torchs(data):
    shape = (data.draw(st.integers(1, 4)), data.draw(st.integers(4, 9)), data.draw(st.integers(4, 9)))
    layers, out_shape = _sequence(data, shape, 0, "", 3)
    cost = design_cost(layers, shape)
    lowered = lower(layers, shape)
    table = {c.node.name: c.cost for c in cost_table(lowered.graph)}
    assert cost.out_shape == out_shape
    # every row is the sum of its own nodes; the joins (Concat, Add) add no params or MACs
    for row, plan in zip(cost.rows, lowered.rows, strict=True):
        assert row.params == sum(table[n].params for n in plan.nodes)
        assert row.macs == sum(table[n].macs for n in plan.nodes)
        assert row.bytes_moved == sum(table[n].bytes_moved for n in plan.nodes)
    assert cost.params == sum(c.params for c in table.values())
    assert cost.macs == sum(c.macs for c in table.values())

    model = _torch_module(layers, shape)
    assert sum(p.numel() for p in model.parameters()) == cost.params
    assert [sum(p.numel() for p in m.parameters()) for m in _weighted(model)] == \
        [r.params for r in cost.rows if r.params]
    x = torch.from_numpy(np.random.default_rng(0).standard_normal((1, *shape), dtype=np.float32))
    with FlopCounterMode(display=False) as flops:
        with torch.no_grad():
            y = model(x)
    assert flops.get_total_flops() == 2 * cost.macs  # FlopCounterMode counts 2 FLOPs per MAC

    # the graph computes what the module computes, with the same weights
    graph = with_weights(lowered, seed=5)
    for m, draw in zip(_weighted(model), lowered.draws, strict=True):
        m.weight.data = torch.from_numpy(np.ascontiguousarray(graph.consts[draw.weight])).reshape(m.weight.shape)
        if draw.bias is not None:
            m.bias.data = torch.from_numpy(graph.consts[draw.bias])
    with torch.no_grad():
        y = model(x).numpy()
    mine = run(graph, {INPUT: x.numpy()})[graph.outputs[0]]
    assert mine.shape == (1, *out_shape)
    np.testing.assert_allclose(mine.reshape(-1), y.reshape(-1), rtol=1e-4, atol=1e-4)


@pytest.mark.parametrize("name", [*(f"comparison:{c}" for c in COMPARISONS), *ARCHITECTURES])
def test_presets_and_architectures_count_as_torch_does(name):
    """Every preset design and paper architecture: params and MACs as torch counts its module (built on
    the meta device, so nothing is computed)."""
    if name.startswith("comparison:"):
        c = COMPARISONS[name.split(":")[1]]
        cases = [(layers, c.input_shape) for _, layers in c.designs]
    else:
        a = architecture(name)
        cases = [(a.layers, a.input_shape)]
    for layers, shape in cases:
        cost = design_cost(layers, shape)
        model = _torch_module(layers, shape, "meta")
        assert sum(p.numel() for p in model.parameters()) == cost.params
        with FlopCounterMode(display=False) as flops:
            y = model(torch.empty((1, *shape), device="meta"))
        assert flops.get_total_flops() == 2 * cost.macs
        assert tuple(y.shape[1:]) in (cost.out_shape, (cost.out_shape[0],))  # a final fc is (N, out)


def test_counting_allocates_nothing_of_the_designs_size():
    """The lowering's weights are zero-stride placeholders: ResNet-50 at 1024² (1.1 GB of activations, 100 MB
    of weights) is counted in a few MiB."""
    layers = resnet50().layers
    design_cost(layers, (3, 224, 224))  # imports and caches first
    tracemalloc.start()
    try:
        cost = design_cost(layers, (3, 1024, 1024))
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert cost.activation_bytes > 10**9 and cost.params * 4 > 90 * 10**6
    assert peak < 8 * 2**20


def _presets_and_architectures():
    cases = [(layers, c.input_shape) for c in COMPARISONS.values() for _, layers in c.designs]
    cases += [(architecture(n).layers, architecture(n).input_shape) for n in ARCHITECTURES]
    cases += [(architecture(n).layers, (3, 64, 80)) for n in ARCHITECTURES]  # stopped early (partial)
    return cases


def test_the_lowered_graph_is_the_one_build_graph_makes():
    """The lowering infers each shape as it emits the node, and only orders the nodes as build_graph does:
    the graph is the one build_graph makes of the same nodes (order, shapes and their order, outputs)."""
    for layers, shape in _presets_and_architectures():
        g = lower(layers, shape, partial=True).graph
        built = build_graph(g.nodes, {INPUT: (1, *shape)}, g.consts, g.outputs,
                            Budgets(2**62, 2**62, 2**62, 2**62))
        assert (built.nodes, built.inputs, built.outputs) == (g.nodes, g.inputs, g.outputs)
        assert list(built.shapes.items()) == list(g.shapes.items())
        assert built.consts.keys() == g.consts.keys()


def test_counting_infers_every_shape_once(monkeypatch):
    """Counting a design (its rows, its PyTorch source) asks the registry for each node's output shape once
    and its cost once: building the graph again after the lowering made it several times slower."""
    calls: Counter = Counter()
    for name, op in REGISTRY.items():
        for what in ("infer", "cost"):
            real = getattr(op, what)
            monkeypatch.setattr(op, what, staticmethod(
                lambda *a, _real=real, _key=(name, what): (calls.update([_key]), _real(*a))[1]))
    for name in ARCHITECTURES:
        layers, shape = architecture(name).layers, architecture(name).input_shape
        calls.clear()
        lowered = lower(layers, shape)
        lowered_cost(lowered)
        torch_source("design", lowered)
        nodes = Counter(n.op for n in lowered.graph.nodes)
        assert calls == Counter({(op, what): k for op, k in nodes.items() for what in ("infer", "cost")})


def test_a_measurement_is_the_graphs_timed_run(monkeypatch):
    """/api/measure times the lowered graph with graph.timed_run, one call per design and round, and its
    per-layer rows are the cost rows."""
    import app.measure as m
    calls = []
    real = m.timed_run

    def counting(graph, feeds, **kw):
        calls.append(graph)
        return real(graph, feeds, **kw)
    monkeypatch.setattr(m, "timed_run", counting)
    layers = (Conv(4, 3, padding=1), Relu(), Concat(((Conv(2, 1),), ())), Fc(3, bias=True))
    t = m.measure(layers, (2, 6, 6), seed=0, repeats=3, warmup=1, budget_s=60)
    assert len(calls) == 4 and t.runs == 3 and not t.truncated
    assert len(t.leaf_ms) == len(design_cost(layers, (2, 6, 6)).rows) == 4
    assert all(len(v) == 3 for v in t.leaf_ms)


def test_a_runs_time_is_its_nodes_time_without_the_lowering_trials():
    """A convolution shape new to this process tries its lowerings on its first run; timed_run runs that
    untimed, and a round's total is the sum of the nodes' times, so with no warm-up the first round does
    not carry the trials."""
    from app.measure import measure
    layers = (Conv(5, 3, bias=True), Relu(), Fc(2))  # no joins: the rows hold every node
    t = measure(layers, (3, 23, 29), seed=0, repeats=2, warmup=0, budget_s=60)
    assert t.runs == 2
    for r in range(2):
        assert t.total_ms[r] == pytest.approx(sum(leaf[r] for leaf in t.leaf_ms), rel=1e-9)
