"""POST /api/transposed/view: /transposed's one request per control change. Its three parts must be
exactly what /api/transposed/check, /api/transposed and /api/transposed/trace answer for the same body,
and the square it traces must sit where the rule below (written out) puts it."""
from __future__ import annotations

import numpy as np
import pytest
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st

from app.encoding import decode_array, decode_frame

BODY = {"input": {"kind": "random", "shape": [2, 7, 6], "seed": 1},
        "layer": {"out_channels": 3, "kernel_size": [3, 2], "stride": 2, "padding": 1, "output_padding": 1},
        "weights": {"kind": "random", "seed": 5}}
LAYER_ONLY = ("input", "layer", "weights")


def _only(d: dict, *keys) -> dict:
    return {k: v for k, v in d.items() if k in keys}


def _without(d: dict, *keys) -> dict:
    return {k: v for k, v in d.items() if k not in keys}


def _square(row: int, col: int, size: int, h: int, w: int) -> tuple[int, int, int, int]:
    """The page's old rule, now the server's: size×size cut to the output, moved up/left to fit."""
    rows, cols = min(size, h), min(size, w)
    r0, c0 = max(0, min(row, h - rows)), max(0, min(col, w - cols))
    return r0, r0 + rows, c0, c0 + cols


layers = st.fixed_dictionaries({
    "weights": st.sampled_from([{"kind": "random", "seed": 2}, {"kind": "upsample", "name": "bilinear"},
                                {"kind": "upsample", "name": "nearest"}]),
    "stride": st.integers(1, 3), "output_padding": st.integers(0, 1), "dilation": st.integers(1, 2),
    "padding": st.integers(0, 2), "shape": st.tuples(st.integers(1, 3), st.integers(1, 8), st.integers(1, 8)),
})
busiest = st.fixed_dictionaries({"channel": st.integers(0, 4), "size": st.integers(1, 8)})
corner = st.fixed_dictionaries({"channel": st.integers(0, 4), "size": st.integers(1, 8), "row": st.integers(0, 40),
                                "col": st.integers(0, 40)})
spots = st.one_of(st.none(), busiest, corner, busiest, corner)


@settings(max_examples=80, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(opt=layers, spot=spots, include_input=st.booleans())
def test_each_part_is_what_its_own_endpoint_answers(client, opt, spot, include_input):
    layer = {"stride": opt["stride"], "output_padding": opt["output_padding"], "dilation": opt["dilation"],
             "padding": opt["padding"]}
    if opt["weights"]["kind"] == "random":
        layer.update(out_channels=2, kernel_size=3)
    body = {"input": {"kind": "random", "shape": list(opt["shape"]), "seed": 4}, "layer": layer,
            "weights": opt["weights"]}
    size = 6 if spot is None else spot["size"]
    req = {**body, "include_input": include_input, "region_size": size}
    r = client.post("/api/transposed/view", json={**req, "trace": spot})
    assert r.status_code == 200, r.text
    v = r.json()
    event(f"valid={v['check']['valid']} spot={'none' if spot is None else 'corner' if 'row' in spot else 'busiest'}")
    assert v["check"] == client.post("/api/transposed/check", json=body).json()
    run = client.post("/api/transposed", json=req)
    if not v["check"]["valid"]:  # e.g. output_padding ≥ stride: the run refuses it with the same error
        assert v["tconv"] is None and v["trace"] is None
        assert run.status_code == v["check"]["error"]["status"]
        assert run.json()["error"]["message"] == v["check"]["error"]["message"]
        return
    assert _without(v["tconv"], "engine_ms") == _without(run.json(), "engine_ms")
    if spot is None:
        assert v["trace"] is None
        return
    c, h, w = v["check"]["output_shape"]
    row, col = (spot["row"], spot["col"]) if "row" in spot else v["tconv"]["region"]  # no corner: the busiest
    r0, r1, c0, c1 = _square(row, col, spot["size"], h, w)
    channel = min(spot["channel"], c - 1)
    assert v["trace"]["region"] == {"channel": channel, "row_start": r0, "row_stop": r1, "col_start": c0,
                                    "col_stop": c1}
    positions = [{"channel": channel, "row": i, "col": j} for i in range(r0, r1) for j in range(c0, c1)]
    assert v["trace"]["traces"] == client.post("/api/transposed/trace",
                                               json={**body, "positions": positions}).json()["traces"]


def test_an_invalid_layer_is_answered_as_the_check_answers_it(client):
    """200, not 4xx: the browser logs every 4xx answer as a console error, and the page explains it."""
    bad = {**BODY, "layer": {**BODY["layer"], "output_padding": 2}}
    r = client.post("/api/transposed/view", json={**bad, "include_input": True, "trace": {"size": 3}})
    assert r.status_code == 200
    assert r.json() == {"check": client.post("/api/transposed/check", json=bad).json(), "tconv": None, "trace": None}
    assert r.json()["check"]["valid"] is False and "smaller than the stride" in r.json()["check"]["error"]["message"]
    framed = client.post("/api/transposed/view", json={**bad, "encoding": "binary"})  # still a frame: the page reads one
    assert framed.headers["content-type"] == "application/x-convlens-frame"
    assert decode_frame(framed.content) == r.json()


def test_a_too_large_layer_gives_the_verdict_of_the_4xx_the_run_gives(client):
    big = {**BODY, "layer": {**BODY["layer"], "kernel_size": 500}}
    run = client.post("/api/transposed", json=big)
    assert run.status_code == 413
    r = client.post("/api/transposed/view", json={**big, "trace": {"size": 6}})
    assert r.status_code == 200 and r.json()["tconv"] is None and r.json()["trace"] is None
    error = r.json()["check"]["error"]
    assert (error["status"], error["code"], error["message"]) == (413, run.json()["error"]["code"],
                                                                  run.json()["error"]["message"])


def test_the_trace_limits_hold(make_client):
    client = make_client(max_trace_positions=10)
    r = client.post("/api/transposed/view", json={**BODY, "trace": {"row": 0, "col": 0, "size": 4}})
    assert r.status_code == 413 and r.json()["error"]["limit"]
    assert client.post("/api/transposed/view", json={**BODY, "trace": {"row": 0, "col": 0, "size": 3}}).status_code == 200


def test_a_malformed_request_is_still_refused(client):
    assert client.post("/api/transposed/view", json={**BODY, "layer": {"stride": 0}}).status_code == 422
    r = client.post("/api/transposed/view", json={**BODY, "trace": {"row": 3}})
    assert r.status_code == 422 and "both row and col" in r.json()["error"]["message"]
    assert client.post("/api/transposed/view", json={**BODY, "trace": {"size": 65}}).status_code == 422
    assert client.post("/api/transposed/view", json={**BODY, "encoding": "npy"}).status_code == 422


def test_the_square_moves_inside_an_output_that_shrank(client):
    """The page keeps its square's corner (from the URL) while a layer change shrinks the output under it."""
    v = client.post("/api/transposed/view", json={**BODY, "trace": {"channel": 9, "row": 500, "col": 500,
                                                                     "size": 6}}).json()
    c, h, w = v["check"]["output_shape"]
    assert (c, h, w) == (3, (7 - 1) * 2 - 2 * 1 + (3 - 1) + 1 + 1, (6 - 1) * 2 - 2 * 1 + (2 - 1) + 1 + 1)
    assert v["trace"]["region"] == {"channel": c - 1, "row_start": h - 6, "row_stop": h, "col_start": w - 6,
                                    "col_stop": w}
    assert [(t["channel"], t["row"], t["col"]) for t in v["trace"]["traces"]] == [
        (c - 1, i, j) for i in range(h - 6, h) for j in range(w - 6, w)]
    out = decode_array(v["tconv"]["output"])
    assert [t["engine_value"] for t in v["trace"]["traces"]] == [float(out[c - 1, i, j]) for i in range(h - 6, h)
                                                                 for j in range(w - 6, w)]


def test_the_trace_endpoint_places_a_spot_as_the_view_does(client):
    """A region move on the page sends only the trace, with the same spot."""
    for spot in ({"channel": 1, "row": 2, "col": 40, "size": 5}, {"size": 4}):
        view = client.post("/api/transposed/view", json={**BODY, "trace": spot}).json()["trace"]
        tr = client.post("/api/transposed/trace", json={**BODY, "spot": spot}).json()
        assert tr["region"] == view["region"] and tr["traces"] == view["traces"]
    both = client.post("/api/transposed/trace", json={**BODY, "spot": {"size": 2}, "positions": [{"row": 0, "col": 0}]})
    assert both.status_code == 422 and "not both" in both.json()["error"]["message"]
    assert client.post("/api/transposed/trace", json=BODY).json()["region"] is None


def test_the_binary_frame_holds_the_same_answer(client):
    req = {**BODY, "include_input": True, "region_size": 4, "trace": {"row": 3, "col": 4, "size": 2}}
    as_json = client.post("/api/transposed/view", json=req).json()
    r = client.post("/api/transposed/view", json={**req, "encoding": "binary"})
    assert r.headers["content-type"] == "application/x-convlens-frame"
    frame = decode_frame(r.content)
    for key in ("input_array", "gather_array", "output", "weight"):
        assert np.array_equal(decode_array(frame["tconv"][key]), decode_array(as_json["tconv"][key]))
    assert frame["check"] == as_json["check"] and frame["trace"] == as_json["trace"]
    assert frame["tconv"]["region"] == as_json["tconv"]["region"]


def test_openapi_documents_the_view(client):
    spec = client.get("/openapi.json").json()
    op = spec["paths"]["/api/transposed/view"]["post"]
    assert "application/x-convlens-frame" in op["responses"]["200"]["content"]
    spot = spec["components"]["schemas"]["TransposedSpot"]["properties"]
    assert "moved up to fit" in spot["row"]["description"] and spot["size"]["maximum"] == 64


@pytest.mark.parametrize("name", ["bilinear", "nearest"])
def test_the_page_default_traces_the_busiest_square_of_the_sample(client, name):
    body = {"input": {"kind": "sample", "name": "edges"}, "layer": {"stride": 2, "output_padding": 0, "dilation": 1},
            "weights": {"kind": "upsample", "name": name}}
    v = client.post("/api/transposed/view", json={**body, "region_size": 6, "trace": {"channel": 0, "size": 6}}).json()
    r, c = v["tconv"]["region"]
    assert v["trace"]["region"] == {"channel": 0, "row_start": r, "row_stop": r + 6, "col_start": c, "col_stop": c + 6}
    assert len(v["trace"]["traces"]) == 6 * 6
