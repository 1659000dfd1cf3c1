"""Issue 14's rows for the cost lab: every request is refused, bounded or given a meaning before it can
allocate, hang or fail with a 500; and issue 11's "every built-in comparison measures at the defaults"."""
from __future__ import annotations

import json
import tracemalloc

import pytest

from app import lab
from app.designs import COMPARISONS
from app.engine.design import Conv, Relu
from app.engine.lower_design import design_cost
from app.measure import measure, measure_many
from app.schemas_cost import CompareRequest, SpeedupSpread
from app.settings import Settings

MB = 2**20


def _post_traced(client, url, body) -> tuple[object, int]:
    """The response and the peak bytes the server side allocated while answering (NumPy reports to
    tracemalloc), so a test can show nothing of the refused size was allocated."""
    tracemalloc.start()
    try:
        r = client.post(url, json=body)
        return r, tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()


@pytest.mark.parametrize("op", ["add", "concat"])
@pytest.mark.parametrize("branches, channels", [([[]], 1), ([[], []], 2), ([[], [{"op": "relu"}]], 2)])
def test_an_empty_branch_is_the_identity(client, op, branches, channels):
    layers = [{"op": op, "branches": branches}]
    counted = client.post("/api/cost", json={"input_shape": [4, 8, 8], "designs": [{"layers": layers}]})
    assert counted.status_code == 200
    # add: every branch is the input's shape; concat: the branches' channels stacked
    assert counted.json()["designs"][0]["out_shape"] == [4 * (channels if op == "concat" else 1), 8, 8]
    timed = client.post("/api/measure", json={"input_shape": [4, 8, 8], "design": {"layers": layers}, "repeats": 2})
    assert timed.status_code == 200 and timed.json()["runs"] == 2


def test_a_huge_kernel_is_refused_before_anything_is_allocated(make_client):
    body = {"input_shape": [1, 4096, 4096], "design": {"layers": [{"op": "conv", "out": 1, "k": 4096}]}}
    r, peak = _post_traced(make_client(), "/api/measure", body)
    assert r.status_code == 413 and r.json()["error"]["limit"] == "CONVLENS_MAX_KERNEL"
    assert peak < 16 * MB  # the input alone would be 64 MiB
    # with the per-layer limits lifted, 100 such filters (6.25 GiB of weights) meet the memory estimate
    loose = make_client(max_kernel=4096, max_weight_count=2**31, max_macs=10**12, max_measure_macs=10**13)
    body["design"]["layers"][0]["out"] = 100
    r, peak = _post_traced(loose, "/api/measure", body)
    assert r.status_code == 413 and r.json()["error"]["limit"] == "CONVLENS_MAX_MEASURE_BYTES"
    assert peak < 16 * MB


def test_the_memory_estimate_bounds_what_a_measurement_allocates():
    s = Settings()
    for c in COMPARISONS.values():
        shape = (c.input_shape[0], 14, 14)
        designs = [layers for _, layers in c.designs]
        bound = lab.memory_bound([design_cost(d, shape) for d in designs], shape, s)
        tracemalloc.start()
        try:
            measure_many(designs, shape, 0, 1, 0, 60, s.compute_threads, s.im2col_chunk_bytes)
            peak = tracemalloc.get_traced_memory()[1]
        finally:
            tracemalloc.stop()
        assert peak <= bound, c.name


class FakeClock:
    """Time that passes only when a layer runs: each ReLU 'takes' 1.6 s, as the slow depthwise layers did."""
    def __init__(self):
        self.t = 0.0

    def __call__(self):
        return self.t


def test_the_budget_is_wall_time_checked_before_every_layer(monkeypatch):
    from app.engine.ops import REGISTRY
    clock = FakeClock()
    relu = REGISTRY["Relu"]
    real_forward = relu.forward

    def slow_relu(node, xs, **kw):  # kw: the graph run may hand over an output buffer (out=)
        clock.t += 1.6
        return real_forward(node, xs, **kw)
    monkeypatch.setattr(relu, "forward", staticmethod(slow_relu))
    five = tuple(Relu() for _ in range(5))  # one run: 8 s
    t = measure(five, (2, 4, 4), 0, repeats=3, warmup=0, budget_s=5, now=clock)
    assert t.truncated and t.runs == 0 and t.total_ms == [] and t.leaf_ms == [[]] * 5
    assert clock.t <= 5 + 1.6  # it stopped at the first layer that started after the budget
    clock.t = 0.0
    t = measure(five, (2, 4, 4), 0, repeats=3, warmup=1, budget_s=100, now=clock)
    assert not t.truncated and t.runs == 3 and all(len(v) == 3 for v in t.leaf_ms)
    assert t.total_ms == pytest.approx([5 * 1600.0] * 3)
    clock.t = 0.0
    t = measure(five, (2, 4, 4), 0, repeats=10, warmup=1, budget_s=30, now=clock)  # warm-up counts
    assert t.truncated and t.runs == 2 and all(len(v) == 2 for v in t.leaf_ms)  # only complete runs


def test_a_cut_measurement_says_so(make_client):
    c = make_client(measure_budget_s=0)
    depthwise = [{"op": "conv", "out": 32, "k": 3, "padding": 1, "groups": 0} for _ in range(5)]
    r = c.post("/api/measure", json={"input_shape": [32, 64, 64], "design": {"layers": depthwise}})
    assert r.status_code == 200 and r.json()["truncated"] and r.json()["runs"] == 0
    pair = c.post("/api/measure/compare", json={"input_shape": [32, 64, 64],
                                                "designs": [{"layers": depthwise}, {"layers": depthwise[:1]}]}).json()
    assert pair["truncated"] and pair["pairs"] == 0 and not pair["trusted"] and "budget" in pair["verdict"]


def _relu_concat(branches: int, length: int) -> bytes:
    branch = "[" + ",".join(['{"op":"relu"}'] * length) + "]"
    design = '{"layers":[{"op":"concat","branches":[' + ",".join([branch] * branches) + "]}]}"
    return ('{"input_shape":[8,8,8],"designs":[' + design + "]}").encode()


@pytest.mark.parametrize("url", ["/api/cost", "/api/measure/compare"])
def test_a_huge_branch_is_refused(client, url):
    body = _relu_concat(8, 190_000)  # the 21 MB request: the JSON limits refuse it unparsed
    assert len(body) > 20 * MB
    r = client.post(url, content=body, headers={"content-type": "application/json"})
    assert r.status_code == 413 and r.json()["error"]["message"]
    body = _relu_concat(8, 10_000)  # within the JSON limits, 80,000 layers: refused before validation
    r = client.post(url, content=body, headers={"content-type": "application/json"})
    assert r.status_code == 413 and r.json()["error"]["limit"] == "CONVLENS_MAX_DESIGN_LAYERS"


@pytest.mark.parametrize("url, key", [("/api/cost", "designs"), ("/api/measure", "design"),
                                      ("/api/measure/compare", "designs")])
def test_design_caps_come_before_validation(make_client, url, key):
    client = make_client(max_design_depth=2)  # at the default 8, the JSON nesting limit (32) answers first
    # 10,000 layers that the schema would refuse one by one: the size limit answers first
    bad = {"layers": [{"op": "teleport"}] * 10_000}
    r = client.post(url, json={"input_shape": [8, 8, 8], key: [bad, bad] if key == "designs" else bad})
    assert r.status_code == 413 and r.json()["error"]["limit"] == "CONVLENS_MAX_DESIGN_LAYERS"
    deep = {"op": "relu"}
    for _ in range(3):
        deep = {"op": "add", "branches": [[deep]]}
    design = {"layers": [deep]}
    r = client.post(url, json={"input_shape": [8, 8, 8], key: [design, design] if key == "designs" else design})
    assert r.status_code == 413 and r.json()["error"]["limit"] == "CONVLENS_MAX_DESIGN_DEPTH"


def test_within_the_caps_a_design_is_counted(make_client):
    c = make_client(max_design_layers=10, max_design_depth=1)
    layers = [{"op": "concat", "branches": [[{"op": "relu"}] * 4, [{"op": "relu"}] * 3]}]  # 1 + 2 + 7 = 10
    assert c.post("/api/cost", json={"input_shape": [2, 4, 4], "designs": [{"layers": layers}]}).status_code == 200
    layers[0]["branches"][1].append({"op": "relu"})
    r = c.post("/api/cost", json={"input_shape": [2, 4, 4], "designs": [{"layers": layers}]})
    assert r.status_code == 413 and "is 11," in r.json()["error"]["message"]


def test_measure_macs_count_warm_up_and_repeats(make_client):
    layer = Conv(8, 3, padding=1)
    macs = design_cost((layer,), (8, 16, 16)).macs
    assert macs == 8 * 8 * 9 * 16 * 16
    c = make_client(max_measure_macs=3 * macs)
    design = {"layers": [{"op": "conv", "out": 8, "k": 3, "padding": 1}]}
    ok = c.post("/api/measure", json={"input_shape": [8, 16, 16], "design": design, "repeats": 3, "warmup": 0})
    assert ok.status_code == 200
    r = c.post("/api/measure", json={"input_shape": [8, 16, 16], "design": design, "repeats": 3, "warmup": 1})
    assert r.status_code == 413 and f"{4 * macs:,}" in r.json()["error"]["message"]
    # a comparison runs both designs every round
    r = c.post("/api/measure/compare", json={"input_shape": [8, 16, 16], "designs": [design, design],
                                             "repeats": 2, "warmup": 0})
    assert r.status_code == 413 and f"{2 * 2 * macs:,}" in r.json()["error"]["message"]


def test_every_builtin_comparison_is_within_the_limits_at_the_defaults():
    s, req = Settings(), CompareRequest.model_fields
    runs = req["repeats"].default + req["warmup"].default
    for c in COMPARISONS.values():
        lab.check_measurable([layers for _, layers in c.designs], c.input_shape, runs, s)  # raises if over


@pytest.mark.parametrize("name", list(COMPARISONS))
def test_every_builtin_comparison_measures_at_the_defaults(client, name):
    preset = next(p for p in client.get("/api/comparisons").json() if p["name"] == name)
    r = client.post("/api/measure/compare", json={"input_shape": preset["input_shape"], "designs": preset["designs"]})
    assert r.status_code == 200, r.text
    res = r.json()
    assert len(res["ratios"]) == res["pairs"] == res["designs"][0]["runs"] == res["designs"][1]["runs"]
    if res["pairs"]:
        sp = res["speedup"]
        assert sp["q1"] <= sp["median"] <= sp["q3"] and min(res["ratios"]) <= sp["q1"]


@pytest.mark.parametrize("ratios, trusted, words", [
    ([2.0, 2.1], False, "only 2"),
    ([2.0, 2.1, 2.05, 1.9, 2.0], True, "5 A/B pairs"),
    ([1.0, 3.0, 1.2, 3.2, 2.0], False, "too noisy"),
])
def test_the_verdict_on_a_speedup(ratios, trusted, words):
    r = lab.spread(ratios)
    sp = SpeedupSpread(median=r.median, q1=r.q1, q3=r.q3, iqr_pct=100 * r.iqr / r.median)
    ok, verdict = lab._verdict(sp, len(ratios), False)
    assert ok is trusted and words in verdict


def test_spread_is_median_and_quartiles():
    r = lab.spread([5.0, 1.0, 3.0, 2.0, 4.0])
    assert (r.median, r.q1, r.q3, r.n) == (3.0, 2.0, 4.0, 5)  # inclusive quartiles of 1..5
    assert lab.spread([]) is None and lab.spread([7.0]).iqr == 0
