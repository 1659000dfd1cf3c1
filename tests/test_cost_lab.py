"""The cost lab's numbers: the seed's example exactly, and the papers' tables where they print
consistently (tests/data/papers.json is the verified transcription; misprints are flagged)."""
from __future__ import annotations

import json
from pathlib import Path

import pytest

from app.designs import COMPARISONS, mobilenet
from app.engine.lower_design import design_cost

# A copy of ../shared/papers/papers.json (the verified transcription, every number with its source), kept in
# the repository so that the suite runs from any clone.
PAPERS = json.loads((Path(__file__).resolve().parent / "data" / "papers.json").read_text())


def test_seed_example_counted_exactly(client):
    seed = next(c for c in client.get("/api/comparisons").json() if c["name"] == "seed")
    res = client.post("/api/cost", json={"input_shape": seed["input_shape"], "designs": seed["designs"]}).json()
    naive, reduced = res["designs"]
    assert naive["params"] == 256 * 256 * 4 * 4 == 1_048_576
    assert reduced["params"] == 256 * 64 + 64 * 256 * 4 * 4 == 278_528
    assert round(res["params_ratio"][1], 2) == 3.76
    assert naive["macs"] == 28 * 28 * 256 * 256 * 16 and res["macs_ratio"][1] == pytest.approx(1_048_576 / 278_528)
    assert reduced["rows"][0]["formula"].startswith("params = C_out · (C_in/groups) · kH · kW = 64 · 256 · 1 · 1")


def test_comparisons_show_their_stated_ratios():
    def ratio(name):
        c = COMPARISONS[name]
        a, b = (design_cost(layers, c.input_shape) for _, layers in c.designs)
        return b.macs / a.macs
    assert ratio("mobilenet_separable") == pytest.approx(1 / 512 + 1 / 9)     # 1/N + 1/k²
    assert ratio("v3_5x5") == pytest.approx((9 + 9) / 25)                     # 28% fewer
    assert ratio("v3_asym") == pytest.approx((3 + 3) / 9)                     # 33% fewer
    inc = COMPARISONS["inception3a"]
    naive, real = (design_cost(layers, inc.input_shape) for _, layers in inc.designs)
    assert naive.out_shape == (64 + 128 + 32 + 192, 28, 28) and real.out_shape == (256, 28, 28)
    assert real.params == 163_328  # = papers.json's recomputation of inception (3a) from its dimensions


def _printed_k(text):  # GoogLeNet prints K of 1024 weights (papers.json conventions; crosschecks use /1024)
    return float(text[:-1]) * (1024 if text.endswith("K") else 1e6)


def test_googlenet_rows_match_table1_where_printed_consistently(client):
    res = client.get("/api/architectures/googlenet").json()
    paper = {r["type"] if r["type"] != "convolution" else f"convolution {r['patch_size_stride']}": r
             for r in PAPERS["googlenet"]["table1_rows"] if r["params"]}
    misprinted = {"convolution 7×7/2", "inception (4c)", "inception (5a)"}  # flagged by papers.json crosschecks
    checked = 0
    for row in res["rows"]:
        p = paper.get(row["name"])
        if p is None:
            continue
        assert row["printed_params"] == p["params"]["printed"]
        if row["name"] in misprinted:
            assert row["note"], f"{row['name']} should be flagged as a misprint"
            continue
        printed_params = _printed_k(p["params"]["printed"])
        assert abs(row["params"] - printed_params) / printed_params < 0.02, row["name"]  # printed to 3 digits
        assert abs(row["macs"] / 1e6 - p["ops"]["number"]) <= 0.65, row["name"]        # printed to whole M
        checked += 1
    assert checked == 9
    assert res["params"] == PAPERS["googlenet"]["collector_crosschecks"]["totals"]["computed_total_weights"]
    assert res["macs"] == PAPERS["googlenet"]["collector_crosschecks"]["totals"]["computed_total_macs"]


def test_mobilenet_totals_and_resource_per_layer_type(client):
    res = client.get("/api/architectures/mobilenet").json()
    totals = PAPERS["mobilenet_v1"]["totals_mobilenet_224_1_0"]
    assert round(res["macs"] / 1e6) == totals["million_mult_adds"] == 569
    assert round(res["params"] / 1e6, 1) == totals["million_params"] == 4.2
    mine = {k["kind"]: k for k in res["by_kind"]}
    names = {"Conv 1 × 1": "1×1 conv", "Conv DW 3 × 3": "depthwise conv", "Conv 3 × 3": "k×k conv",
             "Fully Connected": "fully connected"}
    for row in PAPERS["mobilenet_v1"]["table2_resource_per_layer_type"]:
        k = mine[names[row["type"]]]
        assert round(k["params_pct"], 2) == row["params_pct"]
        if row["type"] == "Conv 3 × 3":  # the paper prints 1.19%; its own dimensions give 1.91% (flagged)
            assert round(k["macs_pct"], 2) == 1.91 and any("1.91%" in n for n in res["notes"])
        else:
            assert round(k["macs_pct"], 2) == row["mult_adds_pct"]


@pytest.mark.parametrize("alpha, resolution, mult_adds_m, params_m", [
    (0.75, 224, 325, 2.6), (0.5, 224, 149, 1.3), (0.25, 224, 41, 0.5),     # MobileNets Table 6
    (1.0, 192, 418, 4.2), (1.0, 160, 290, 4.2), (1.0, 128, 186, 4.2),      # MobileNets Table 7
])
def test_mobilenet_width_and_resolution_multipliers(alpha, resolution, mult_adds_m, params_m):
    a = mobilenet(alpha, resolution)
    c = design_cost(a.layers, a.input_shape)
    assert abs(c.macs / 1e6 - mult_adds_m) <= 1.0 and round(c.params / 1e6, 1) == params_m


def test_mobilenet_table2_only_beside_the_model_it_was_printed_for(client):
    assert client.get("/api/architectures/mobilenet").json()["paper_by_kind"]["1×1 conv"] == [94.86, 74.59]
    assert client.get("/api/architectures/mobilenet?alpha=0.5").json()["paper_by_kind"] is None


def test_squeezenet_params(client):
    res = client.get("/api/architectures/squeezenet").json()
    assert res["params"] == PAPERS["squeezenet"]["totals"]["params_before_pruning"] == 1_248_424
    printed = {r["layer"]: r["params_before_pruning"] for r in PAPERS["squeezenet"]["table1_rows"]
               if isinstance(r["params_before_pruning"], int)}
    for row in res["rows"]:
        if row["name"] in printed:
            assert row["params"] == printed[row["name"]], row["name"]


def test_resnet50_flops(client):
    res = client.get("/api/architectures/resnet50").json()
    cross = next(r for r in PAPERS["resnet"]["collector_crosschecks"] if r.get("depth") == 50)
    assert res["macs"] == cross["macs_stride_in_first_conv_of_block"]
    assert round(res["macs"] / 1e9, 1) == 3.9 and abs(res["macs"] / 1e9 - 3.8) < 0.1  # printed "3.8×10^9"


def test_measure_returns_real_timings_within_limits(make_client):
    c = make_client()
    seed = next(x for x in c.get("/api/comparisons").json() if x["name"] == "seed")
    res = c.post("/api/measure", json={"input_shape": [64, 14, 14], "design": seed["designs"][1], "repeats": 3}).json()
    assert res["runs"] == 3 and res["median_ms"] > 0 and not res["truncated"]
    assert [l["kind"] for l in res["layers"]] == ["1×1 conv", "activation", "k×k conv"]
    assert all(l["median_ms"] > 0 for l in res["layers"])
    tight = make_client(max_measure_macs=10**6)
    r = tight.post("/api/measure", json={"input_shape": [64, 14, 14], "design": seed["designs"][1]})
    assert r.status_code == 413 and r.json()["error"]["limit"] == "CONVLENS_MAX_MEASURE_MACS"
    slow = make_client(measure_budget_s=0)
    r = slow.post("/api/measure", json={"input_shape": [64, 14, 14], "design": seed["designs"][1], "repeats": 20}).json()
    assert r["runs"] == 0 and r["truncated"] and r["median_ms"] is None  # cut before the first layer
    assert [l["median_ms"] for l in r["layers"]] == [None, None, None]


@pytest.mark.parametrize("body, fragment", [
    ({"input_shape": [3, 8, 8], "designs": [{"layers": [{"op": "conv", "out": 4, "k": 9}]}]}, "larger than the padded input"),
    ({"input_shape": [3, 8, 8], "designs": [{"layers": [{"op": "conv", "out": 4, "groups": 2}]}]}, "must divide"),
    ({"input_shape": [3, 8, 8], "designs": [{"layers": [{"op": "concat", "branches": [[{"op": "conv", "out": 2}],
                                                                                       [{"op": "pool", "k": 2}]]}]}]},
     "different H×W"),
    ({"input_shape": [3, 8, 8], "designs": [{"layers": [{"op": "teleport"}]}]}, "op"),
    ({"input_shape": [10**6, 8, 8], "designs": [{"layers": [{"op": "relu"}]}]}, "CONVLENS_MAX_CHANNELS"),
])
def test_bad_designs_get_4xx(client, body, fragment):
    r = client.post("/api/cost", json=body)
    err = r.json()["error"]
    assert 400 <= r.status_code < 500 and (err.get("limit") == fragment if fragment.startswith("CONVLENS_")
                                           else fragment in err["message"])


def test_unknown_architecture(client):
    r = client.get("/api/architectures/alexnet")
    assert r.status_code == 404 and "googlenet" in r.json()["error"]["message"]


def test_paper_rows_carry_the_modules_output_shape(client):
    rows = {r["name"]: r for r in client.get("/api/architectures/googlenet").json()["rows"]}
    paper = {r["type"]: r["output_hwc"] for r in PAPERS["googlenet"]["table1_rows"] if r["type"].startswith("inception")}
    for name, (h, w, c) in paper.items():
        assert rows[name]["out_shape"] == [c, h, w], name


def test_each_conv_row_links_to_the_layer_it_counted(client):
    """The request a row opens in /conv or /pointwise is the layer the row counted: the layer check of that
    request gives the row's output shape, parameters and MACs."""
    checked = 0
    for preset in client.get("/api/comparisons").json():
        res = client.post("/api/cost", json={"input_shape": preset["input_shape"], "designs": preset["designs"]}).json()
        for row in (r for d in res["designs"] for r in d["rows"]):
            if "conv" not in row["kind"]:
                assert row["convolve"] is None
                continue
            check = client.post("/api/layer/check", json=row["convolve"]).json()
            assert check["valid"], (preset["name"], row["name"], check)
            assert check["output_shape"] == row["out_shape"] and check["cost"]["macs"] == row["macs"]
            assert check["cost"]["params"] == row["params"]
            checked += 1
    assert checked == 26
