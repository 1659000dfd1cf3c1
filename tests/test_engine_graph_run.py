"""The graph's run loop (app.engine.graph): element-wise ops write into inputs nothing reads any more,
and never into a tensor that is kept, a constant, the caller's array, or memory another live tensor
shares; a timed run does not time the lowerings' first-use measurement."""
from __future__ import annotations

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from hypothesis import given, settings, strategies as st

from app.engine import buffers
from app.engine import graph as graph_mod
from app.engine import lowering
from app.engine.graph import build_graph, run, timed_run
from app.engine.ops import REGISTRY, Node
from test_graph_ops import close

SHAPE = (1, 4, 16, 32)  # 8 KiB tensors: big enough for the engine's buffers to keep and hand out again
UNARY = {"Relu": ({}, []), "Clip": ({}, ["lo", "hi"]), "Identity": ({}, []), "Reshape": ({}, ["shape"]),
         "Conv": ({"pads": [1, 1, 1, 1]}, ["cw"])}
BINARY = ("Add", "Sub", "Mul", "Div")
CONSTS = {"lo": np.float32(-0.5), "hi": np.float32(0.75), "shape": np.array(SHAPE),
          "w": np.linspace(-1, 1, 2048, dtype=np.float32).reshape(SHAPE),
          "cw": np.random.default_rng(0).standard_normal((4, 4, 3, 3), dtype=np.float32) / 6}


@st.composite
def random_graphs(draw):
    """A random DAG over (1, 4, 16, 32) tensors of element-wise ops, Reshape (a view), Identity (the same
    array) and Conv (an output from the engine's buffers), reading the input, earlier tensors and a
    constant, with random tensors kept."""
    names, nodes = ["x"], []
    for i in range(draw(st.integers(1, 8))):
        op = draw(st.sampled_from([*UNARY, *BINARY]))
        a = draw(st.sampled_from(names + ["w"]))
        if op in BINARY:
            ins = (a, draw(st.sampled_from(names + ["w"])))
        else:
            ins = (a, *UNARY[op][1])
        nodes.append(Node(f"n{i}", op, ins, (f"t{i}",), UNARY.get(op, ({}, []))[0]))
        names.append(f"t{i}")
    keep = draw(st.sets(st.sampled_from(names)))
    return nodes, names[-1], keep


def no_donation(monkeypatch):
    """The plain run: every op allocates its output, no memory is reused, nothing is fused."""
    monkeypatch.setattr(graph_mod, "_donor", lambda *a: None)
    monkeypatch.setattr(graph_mod, "_recycle", lambda *a: None)
    monkeypatch.setattr(graph_mod, "_fusable", lambda *a: None)


@settings(max_examples=200, deadline=None)
@given(random_graphs(), st.integers(0, 2**31))
def test_writing_into_dead_inputs_changes_no_result_and_no_kept_feed_or_constant(case, seed):
    """In-place element-wise ops, layer outputs made from dead tensors' memory and Relu/Clip done by
    the Conv before them: the same numbers as the plain run, and nothing kept, fed or constant is ever
    written."""
    nodes, out, keep = case
    g = build_graph(nodes, {"x": SHAPE}, CONSTS, [out])
    x = np.random.default_rng(seed).standard_normal(SHAPE).astype(np.float32) * 2
    x0, consts0 = x.copy(), {k: np.copy(v) for k, v in g.consts.items()}
    ours = run(g, {"x": x}, keep=keep)
    with pytest.MonkeyPatch.context() as mp:
        no_donation(mp)
        ref = run(g, {"x": x0.copy()}, keep=keep)
    assert set(ours) == set(ref)
    for k in ref:
        np.testing.assert_array_equal(ours[k], ref[k], err_msg=k)
    np.testing.assert_array_equal(x, x0)  # the caller's input
    for k, v in consts0.items():
        np.testing.assert_array_equal(g.consts[k], v)  # the weights
    again = run(g, {"x": x}, keep=keep)  # and a second run sees the same weights
    for k in ref:
        np.testing.assert_array_equal(again[k], ref[k])
        np.testing.assert_array_equal(ours[k], ref[k], err_msg=f"{k} was written after it was returned")


def conv_relu_graph():
    rng = np.random.default_rng(0)
    w = rng.standard_normal((4, 3, 3, 3), dtype=np.float32)
    nodes = [Node("c", "Conv", ("x", "w"), ("c",), {"pads": [1, 1, 1, 1]}),
             Node("v", "Reshape", ("c", "shape"), ("v",)),
             Node("r", "Relu", ("c",), ("r",)), Node("a", "Add", ("r", "v"), ("y",))]
    consts = {"w": w, "shape": np.array([1, 4, 8, 8])}
    return build_graph(nodes, {"x": (1, 3, 8, 8)}, consts, ["y"]), w


def test_a_view_of_a_live_tensor_is_not_written_and_a_dead_one_is(monkeypatch):
    """Relu(c) reads c last, but must not write into it while Reshape(c), a view of c, is still to be
    added; Add then may write into its dead inputs. Checked against torch, and that the donation happens at all."""
    g, w = conv_relu_graph()
    x = np.random.default_rng(1).standard_normal((1, 3, 8, 8), dtype=np.float32)
    outs = []
    for name in ("Relu", "Add"):
        cls = REGISTRY[name]
        forward = cls.forward

        def spy(node, xs, out=None, _forward=forward):
            outs.append((node.op, out is not None))
            return _forward(node, xs) if out is None else _forward(node, xs, out=out)
        monkeypatch.setattr(cls, "forward", staticmethod(spy))
    y = run(g, {"x": x})["y"]
    c = F.conv2d(torch.from_numpy(x), torch.from_numpy(w), padding=1)
    close(y, (F.relu(c) + c).numpy())
    assert outs == [("Relu", False), ("Add", True)]


def test_a_relu_or_clip_after_a_conv_is_done_by_the_conv_unless_its_input_is_kept(monkeypatch):
    rng = np.random.default_rng(2)
    w = rng.standard_normal((4, 3, 3, 3), dtype=np.float32)
    nodes = [Node("c", "Conv", ("x", "w"), ("c",)), Node("r", "Relu", ("c",), ("r",)),
             Node("c2", "Conv", ("r", "w2"), ("c2",), {"pads": [1, 1, 1, 1]}),
             Node("k", "Clip", ("c2", "lo", "hi"), ("y",))]
    w2 = rng.standard_normal((4, 4, 3, 3), dtype=np.float32)
    consts = {"w": w, "w2": w2, "lo": np.float32(-0.25), "hi": np.float32(0.5)}
    g = build_graph(nodes, {"x": (1, 3, 10, 10)}, consts, ["y"])
    x = rng.standard_normal((1, 3, 10, 10), dtype=np.float32)
    c = F.conv2d(torch.from_numpy(x), torch.from_numpy(w))
    y = F.conv2d(F.relu(c), torch.from_numpy(w2), padding=1).clamp(-0.25, 0.5).numpy()
    calls = []
    for name in ("Conv", "Relu", "Clip"):
        cls = REGISTRY[name]

        def spy(node, xs, _forward=cls.forward, **kw):
            calls.append((node.name, kw.get("clip")))
            return _forward(node, xs, **kw)
        monkeypatch.setattr(cls, "forward", staticmethod(spy))
    close(run(g, {"x": x})["y"], y)
    assert calls == [("c", (0.0, None)), ("c2", (-0.25, 0.5))]  # Relu and Clip were not run
    calls.clear()
    kept = run(g, {"x": x}, keep=["c"])
    close(kept["c"], c.numpy())  # the kept pre-activation is not clipped
    close(kept["y"], y)
    assert calls == [("c", None), ("r", None), ("c2", (-0.25, 0.5))]


@pytest.fixture
def fresh_choices():
    lowering.clear()
    yield
    lowering.clear()


def test_a_timed_run_measures_the_lowerings_before_it_starts_the_clock(fresh_choices, monkeypatch):
    rng = np.random.default_rng(3)
    w = rng.standard_normal((16, 16, 3, 3), dtype=np.float32)
    g = build_graph([Node("c", "Conv", ("x", "w"), ("y",), {"pads": [1, 1, 1, 1]})], {"x": (1, 16, 96, 96)},
                    {"w": w}, ["y"])
    x = rng.standard_normal((1, 16, 96, 96), dtype=np.float32)
    trials, walks = [], []
    measure, walk = lowering._measure, graph_mod._walk
    monkeypatch.setattr(lowering, "_measure", lambda *a: trials.append(len(walks)) or measure(*a))
    monkeypatch.setattr(graph_mod, "_walk", lambda *a: walks.append(a[3] is not None) or walk(*a))
    values, ms = timed_run(g, {"x": x})
    assert trials == [1] and walks == [False, True]  # measured during an untimed walk, then timed
    close(values["y"], F.conv2d(torch.from_numpy(x), torch.from_numpy(w), padding=1).numpy())
    assert len(ms) == 1
    timed_run(g, {"x": x})
    assert trials == [1] and walks == [False, True, True]  # shape known now: no second walk


def test_buffers_hand_out_kept_memory_once_and_never_what_is_too_big():
    buffers.clear()
    a = buffers.take((64, 64))
    buffers.give(a)
    buffers.give(a[:10])  # the same memory again: kept once
    b = buffers.take((64, 64))
    assert np.shares_memory(a, b)
    c = buffers.take((64, 64))
    assert not np.shares_memory(b, c)  # the one buffer was handed out once
    buffers.give(b)
    d = buffers.take((8, 8))  # b is far larger than needed: a new array
    assert not np.shares_memory(b, d)
    buffers.give(np.zeros(4096, np.float64))  # not float32: refused
    buffers.give(np.ones(4096, np.float32)[::2])  # a strided view of a temporary: its owner is kept
    buffers.clear()


def test_the_kept_memory_is_a_setting_of_the_app():
    """CONVLENS_ENGINE_BUFFER_BYTES bounds what a worker keeps: at 0 nothing is kept, every temporary new."""
    from app.main import create_app
    from app.settings import Settings
    try:
        create_app(Settings(engine_buffer_bytes=0))
        assert buffers.max_kept_bytes() == 0
        a = buffers.take((64, 64))
        buffers.give(a)
        assert not np.shares_memory(a, buffers.take((64, 64)))
        create_app(Settings(engine_buffer_bytes=2**20))
        buffers.give(a)
        assert np.shares_memory(a, buffers.take((64, 64)))
        buffers.give(a)
        buffers.keep_at_most(0)  # lowered: what was kept is let go
        assert not np.shares_memory(a, buffers.take((64, 64)))
    finally:
        buffers.keep_at_most(buffers.DEFAULT_KEPT_BYTES)
        buffers.clear()


def test_a_graph_run_makes_outputs_from_dead_tensors_and_never_from_the_returned_ones():
    rng = np.random.default_rng(4)
    w = rng.standard_normal((8, 8, 3, 3), dtype=np.float32) / 8
    nodes = [Node(f"c{i}", "Conv", (f"t{i}", "w"), (f"t{i + 1}",), {"pads": [1, 1, 1, 1]}) for i in range(4)]
    g = build_graph(nodes, {"t0": (1, 8, 32, 32)}, {"w": w}, ["t4"])
    x = rng.standard_normal((1, 8, 32, 32), dtype=np.float32)
    buffers.clear()
    first = run(g, {"t0": x}, keep=["t2"])
    kept, y = first["t2"].copy(), first["t4"].copy()
    ref = torch.from_numpy(x)
    for i in range(4):
        ref = F.conv2d(ref, torch.from_numpy(w), padding=1)
        if i == 1:
            close(first["t2"], ref.numpy())
    close(first["t4"], ref.numpy())
    taken = []
    take = buffers.take
    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(buffers, "take", lambda shape: taken.append(take(shape)) or taken[-1])
        second = run(g, {"t0": x})
    assert any(np.shares_memory(t, b) for t in taken for b in [second["t4"]])  # outputs reuse memory
    assert not any(np.shares_memory(t, a) for t in taken for a in (first["t2"], first["t4"], x))
    np.testing.assert_array_equal(first["t2"], kept)
    np.testing.assert_array_equal(first["t4"], y)
    np.testing.assert_array_equal(second["t4"], y)
