"""POST /api/convolve/view: a page's one request per control change. Its three parts must be exactly
what /api/layer/check, /api/convolve and /api/trace answer for the same layer, and the region it traces
must sit where the page would have put it (static/js/conv.js regionOf, draw.drawnPositions)."""
from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from app.encoding import decode_array, decode_frame
from app.engine.region import OutputRegion, first_and_last, region_at

BODY = {"input": {"kind": "sample", "name": "colour"},
        "layer": {"out_channels": 4, "kernel_size": [5, 3], "padding": 1}, "weights": {"kind": "random", "seed": 3}}
LAYER_ONLY = ("input", "layer", "weights")


def _without(d: dict, *keys) -> dict:
    return {k: v for k, v in d.items() if k not in keys}


def test_each_part_is_what_its_own_endpoint_answers(client):
    view = client.post("/api/convolve/view", json={**BODY, "include_input": True, "preview_size": 40,
                                                   "trace": {"channel": 2, "row": 30, "col": 50, "size": 4}})
    assert view.status_code == 200
    v = view.json()
    assert v["check"] == client.post("/api/layer/check", json=BODY).json()
    conv = client.post("/api/convolve", json={**BODY, "include_input": True, "preview_size": 40}).json()
    assert _without(v["conv"], "engine_ms") == _without(conv, "engine_ms")
    region = {"channel": 2, "row_start": 30, "row_stop": 34, "col_start": 50, "col_stop": 54}
    assert v["trace"]["region"] == region
    assert v["trace"]["traces"] == client.post("/api/trace", json={**BODY, "region": region}).json()["traces"]


def test_an_invalid_layer_is_answered_as_the_check_answers_it(client):
    """200, not 4xx: the browser logs every 4xx answer as a console error, and the page explains it."""
    bad = {**BODY, "layer": {"kernel_size": 500}}
    r = client.post("/api/convolve/view", json={**bad, "trace": {"size": 3}})
    assert r.status_code == 200
    assert r.json() == {"check": client.post("/api/layer/check", json=bad).json(), "conv": None, "trace": None}
    assert r.json()["check"]["valid"] is False and r.json()["check"]["error"]["status"] == 413
    framed = client.post("/api/convolve/view", json={**bad, "encoding": "binary"})  # still a frame: the page reads one
    assert framed.headers["content-type"] == "application/x-convlens-frame"
    assert decode_frame(framed.content) == r.json()


def test_a_malformed_request_is_still_refused(client):
    assert client.post("/api/convolve/view", json={**BODY, "layer": {"stride": 0}}).status_code == 422
    r = client.post("/api/convolve/view", json={**BODY, "trace": {"row": 3}})
    assert r.status_code == 422 and "both row and col" in r.json()["error"]["message"]
    assert client.post("/api/convolve/view", json={**BODY, "encoding": "npy"}).status_code == 422


def test_the_region_moves_inside_an_output_that_shrank(client):
    """The page keeps its region's corner while a larger kernel shrinks the output under it."""
    v = client.post("/api/convolve/view", json={**BODY, "trace": {"channel": 9, "row": 500, "col": 500, "size": 12,
                                                                   "upto": 2}}).json()
    c, h, w = v["check"]["output_shape"]
    assert v["trace"]["region"] == {"channel": c - 1, "row_start": h - 12, "row_stop": h, "col_start": w - 12,
                                    "col_stop": w}
    assert [(t["channel"], t["row"], t["col"]) for t in v["trace"]["traces"]] == [
        (c - 1, h - 12, w - 12), (c - 1, h - 12, w - 11), (c - 1, h - 12, w - 10), (c - 1, h - 1, w - 1)]


def test_without_a_corner_the_region_is_the_busiest_one(client):
    v = client.post("/api/convolve/view", json={**BODY, "region_size": 7, "trace": {"size": 7, "upto": 0}}).json()
    picked = v["conv"]["region"]
    assert v["trace"]["region"] == picked
    assert [(t["row"], t["col"]) for t in v["trace"]["traces"]] == [
        (picked["row_start"], picked["col_start"]), (picked["row_stop"] - 1, picked["col_stop"] - 1)]


def test_all_channels_at_one_pixel_is_that_pixels_output_vector(client):
    v = client.post("/api/convolve/view", json={**BODY, "trace": {"row": 17, "col": 40, "size": 1, "all_channels": True}}).json()
    out = decode_array(client.post("/api/convolve", json=BODY).json()["output"])
    assert [t["channel"] for t in v["trace"]["traces"]] == [0, 1, 2, 3]
    assert np.allclose([t["value"] for t in v["trace"]["traces"]], out[:, 17, 40], rtol=1e-6, atol=1e-6)


def test_the_binary_frame_holds_the_same_answer(client):
    req = {**BODY, "include_input": True, "trace": {"row": 3, "col": 4, "size": 2}}
    as_json = client.post("/api/convolve/view", json=req).json()
    r = client.post("/api/convolve/view", json={**req, "encoding": "binary"})
    assert r.headers["content-type"] == "application/x-convlens-frame"
    frame = decode_frame(r.content)
    for key in ("input_array", "output", "weight"):
        assert np.array_equal(decode_array(frame["conv"][key]), decode_array(as_json["conv"][key]))
    assert frame["check"] == as_json["check"] and frame["trace"] == as_json["trace"]


def test_the_trace_limits_hold(make_client):
    client = make_client(max_trace_positions=10)
    r = client.post("/api/convolve/view", json={**BODY, "trace": {"row": 0, "col": 0, "size": 4}})
    assert r.status_code == 413 and r.json()["error"]["limit"]


@settings(max_examples=200, deadline=None)
@given(row=st.integers(0, 300), col=st.integers(0, 300), size=st.integers(1, 64), h=st.integers(1, 80),
       w=st.integers(1, 80), upto=st.integers(0, 5000))
def test_region_and_positions_match_the_page_rules(row, col, size, h, w, upto):
    """region_at is conv.js regionOf; first_and_last is conv_draw.js drawnPositions (written out here)."""
    rows, cols = min(size, h), min(size, w)
    r0 = max(0, min(row, h - rows))
    c0 = max(0, min(col, w - cols))
    at = region_at(row, col, size, h, w)
    assert at == OutputRegion(r0, r0 + rows, c0, c0 + cols)
    n = rows * cols
    steps = list(range(min(upto, n - 1) + 1)) + ([n - 1] if upto < n - 1 else [])
    assert first_and_last(at, upto) == [(r0 + s // cols, c0 + s % cols) for s in steps]


@pytest.mark.parametrize("upto", [0, 5, 143, 10_000])
def test_first_and_last_covers_the_region_corners(upto):
    got = first_and_last(OutputRegion(2, 14, 3, 15), upto)
    assert got[0] == (2, 3) and got[-1] == (13, 14) and len(got) == min(upto, 143) + 1 + (upto < 143)
