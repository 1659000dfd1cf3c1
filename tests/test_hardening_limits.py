"""Issue 14, checked in-process: every engine endpoint goes through the same limits, responses are sized
before they are encoded, JSON bodies are measured before they are parsed, the layer check and the
convolution run one validation, and the security defaults (Host, Origin, rate limit)."""
from __future__ import annotations

import json

import numpy as np
import pytest

from app.api.json_scan import JsonLimits, check, scan
from tests.images import png_rgb


def error_of(r, status: int) -> dict:
    assert r.status_code == status, r.text
    return r.json()["error"]


# --- one set of engine limits for every endpoint that runs the engine -------------------------------

@pytest.mark.parametrize("path, body, what", [
    # the row: C=256, k=16, O=256 on 64×64 is a 16×16 conv 256→256 over 49×49 positions:
    # 256·256·16·16 = 16,777,216 weights and 256·49·49 · 256·16·16 = 40,265,318,400 MACs
    ("/api/pointwise/fc", {"channels": 256, "block": 16, "outputs": 256, "size": 64}, "weight count (C_out·C_in/groups·kH·kW) is 16,777,216"),
    ("/api/pointwise/fc", {"channels": 64, "block": 16, "outputs": 256, "size": 64},
     f"MACs (multiply-accumulates) of the layer is {64 * 16 * 16 * 256 * 49 * 49:,}"),
    # a 1-channel 4096² input widened to 200 channels by a 1×1: 200·4096·4096 output elements
    ("/api/pointwise/nin", {"input": {"kind": "random", "shape": [1, 4096, 4096]}, "widths": [200]},
     f"output elements (C_out·H_out·W_out) is {200 * 4096 * 4096:,}"),
    ("/api/pointwise/matmul", {"input": {"kind": "random", "shape": [1024, 64, 64]},
                               "layer": {"kernel_size": 1, "out_channels": 1024}},
     f"MACs (multiply-accumulates) of the layer is {1024 * 1024 * 64 * 64:,}"),
])
def test_every_engine_endpoint_refuses_over_the_limits_before_running(make_client, path, body, what):
    err = error_of(make_client(max_macs=10**9).post(path, json=body), 413)
    assert err["code"] == "limit_exceeded" and what in err["message"] and err["limit"].startswith("CONVLENS_MAX_")


def test_fc_within_the_limits_still_answers(client):
    r = client.post("/api/pointwise/fc", json={"channels": 8, "block": 3, "outputs": 4, "size": 6})
    assert r.status_code == 200 and r.json()["score_map_shape"] == [4, 4, 4]


VALUES = 8 * 64 * 64 + 8 * 3 * 9  # output + weights of the layer below


@pytest.mark.parametrize("encoding, limit, fragment", [
    ("list", {"max_list_values": 10_000}, f"numbers sent as JSON lists (encoding list) is {VALUES:,}"),
    # base64 is 16/3 bytes a value, binary 4: a limit between the two refuses one and not the other
    ("base64", {"max_response_bytes": 150_000}, f"estimated size in bytes (encoding base64) is {VALUES * 16 // 3:,}"),
])
def test_responses_are_sized_before_encoding(make_client, encoding, limit, fragment):
    c = make_client(**limit)
    body = {"input": {"kind": "random", "shape": [3, 64, 64]}, "layer": {"out_channels": 8, "padding": 1},
            "encoding": encoding}
    err = error_of(c.post("/api/convolve", json=body), 413)
    assert fragment in err["message"], err
    assert c.post("/api/convolve", json={**body, "encoding": "binary"}).status_code == 200  # 4 bytes a value


def test_list_at_the_output_limit_is_refused_with_defaults(client):
    """The issue's row: "list" at the output limit (32 M values) was a 681 MB body and +2.5 GB."""
    body = {"input": {"kind": "random", "shape": [1, 4096, 4096]}, "layer": {"out_channels": 2, "kernel_size": 1},
            "encoding": "list"}
    err = error_of(client.post("/api/convolve", json=body), 413)
    assert f"is {2 * 4096 * 4096 + 2:,}" in err["message"] and err["limit"] == "CONVLENS_MAX_LIST_VALUES"


# --- /api/layer/check and /api/convolve: one validation ---------------------------------------------

def _w(c_out, c_in, k=3):
    return np.arange(c_out * c_in * k * k, dtype=float).reshape(c_out, c_in, k, k).tolist()


@pytest.mark.parametrize("input_, weights, layer, fragment", [
    ([2, 8, 8], {"kind": "custom", "weight": _w(4, 3)}, {}, "does not match"),          # 4×3×3×3 on 2 channels
    ([2, 8, 8], {"kind": "custom", "weight": _w(2, 2), "bias": [1, 2, 3]}, {}, "needs one per output channel"),
    ([3, 8, 8], {"kind": "custom", "weight": _w(3, 1)}, {"groups": 1}, "does not match"),  # 3×1×3×3, groups 1
    ([1, 8, 8], {"kind": "custom", "weight": [[[[1e39]]]]}, {}, "finite"),
])
def test_check_says_invalid_exactly_when_convolve_refuses(client, input_, weights, layer, fragment):
    body = {"input": {"kind": "random", "shape": input_}, "weights": weights, "layer": layer}
    refused = error_of(client.post("/api/convolve", json=body), 422)
    check = client.post("/api/layer/check", json=body).json()
    assert check["valid"] is False and fragment in refused["message"]
    assert check["error"] == {"code": refused["code"], "message": refused["message"], "status": 422}


def test_a_custom_layer_check_accepts_is_one_convolve_runs(client):
    body = {"input": {"kind": "random", "shape": [4, 8, 8]}, "weights": {"kind": "custom", "weight": _w(2, 2),
                                                                         "bias": [0.5, -1]}, "layer": {"groups": 2}}
    assert client.post("/api/layer/check", json=body).json()["valid"] is True
    assert client.post("/api/convolve", json=body).json()["output_shape"] == [2, 6, 6]


# --- what the schema promises, the server accepts ----------------------------------------------------

def test_weights_without_kind_are_the_default_kind_and_whole_floats_are_ints(client):
    a = client.post("/api/convolve", json={"weights": {"seed": 1}, "input": {"name": "edges"}, "encoding": "npy"})
    b = client.post("/api/convolve", json={"weights": {"kind": "random", "seed": 1},
                                           "input": {"kind": "sample", "name": "edges"}, "encoding": "npy"})
    assert a.status_code == 200 and a.content == b.content
    r = client.post("/api/convolve", json={"layer": {"stride": 2.0, "kernel_size": [3.0, 3], "padding": 1.0}})
    assert r.status_code == 200 and r.json()["layer"]["stride"] == [2, 2]
    assert "stride" in error_of(client.post("/api/convolve", json={"layer": {"stride": 2.5}}), 422)["message"]
    assert client.post("/api/pointwise/fc", json={"channels": 4.0}).status_code == 200


def test_an_input_id_with_a_trailing_newline_is_not_an_id(client):
    up = client.post("/api/inputs", files={"file": ("g.png", png_rgb())}).json()
    assert client.get(f"/api/inputs/{up['id']}").status_code == 200
    assert client.get(f"/api/inputs/{up['id']}%0A").status_code in (404, 422)
    r = client.post("/api/convolve", json={"input": {"kind": "upload", "id": up["id"] + "\n"}})
    assert r.status_code == 422


# --- JSON parse cost --------------------------------------------------------------------------------

def test_the_scan_counts_what_parsing_would_build():
    body = json.dumps({"a": [1, 2, {"b": "x[{:,\\\"]"}], "c": {"d": []}}).encode()
    assert scan(body) == scan(body.replace(b" ", b""))
    shape = scan(body)
    assert (shape.depth, shape.keys) == (3, 4)   # {[{ ; keys a, b, c, d (the string's ':' is not one)
    limits = JsonLimits(depth=2, keys=10, values=100)
    assert "nested 3 levels deep" in check(body, limits)[0]
    band = b"[" + b'"\\\\",' * 300_000 + b"0]"   # escaped backslashes across the scan's 1 MB bands
    assert scan(band).depth == 1 and scan(band).values == 300_001


@pytest.mark.parametrize("body, limit", [
    ({f"k{i}": i for i in range(200_001)}, "CONVLENS_MAX_JSON_KEYS"),
    ({"weights": {"kind": "custom", "weight": [[[[0] * 1_000_001]]]}}, "CONVLENS_MAX_JSON_VALUES"),
    (json.loads("[" * 40 + "]" * 40), "CONVLENS_MAX_JSON_DEPTH"),
])
def test_json_bodies_over_the_parse_limits_are_refused_before_parsing(client, body, limit):
    err = error_of(client.post("/api/layer/check", json=body), 413)
    assert err["limit"] == limit and "allowed" in err["message"]


# --- Host, Origin, rate ------------------------------------------------------------------------------

def test_only_allowed_host_names_are_answered(make_client):
    c = make_client()
    err = error_of(c.get("/healthz", headers={"host": "rebind.example:8000"}), 400)
    assert err["code"] == "host_not_allowed" and "rebind.example" in err["message"]
    for host in ("127.0.0.1:8000", "localhost", "[::1]:8000", "LOCALHOST:1"):
        assert c.get("/healthz", headers={"host": host}).status_code == 200, host
    assert make_client(allowed_hosts="*").get("/healthz", headers={"host": "any.example"}).status_code == 200


def test_foreign_origins_cannot_post_or_upload(make_client):
    c = make_client()
    foreign = {"origin": "http://evil.example"}
    assert error_of(c.post("/api/convolve", json={}, headers=foreign), 403)["code"] == "foreign_origin"
    assert error_of(c.post("/api/inputs", files={"file": ("g.png", png_rgb())}, headers=foreign), 403)
    assert c.post("/api/convolve", json={}, headers={"origin": "http://testserver"}).status_code == 200
    assert c.get("/healthz", headers=foreign).status_code == 200            # reading is not refused
    cors = make_client(cors_origins="http://lab.example")
    assert cors.post("/api/convolve", json={}, headers={"origin": "http://lab.example"}).status_code == 200
    assert cors.post("/api/convolve", json={}, headers=foreign).status_code == 403


def test_optional_rate_limit(make_client):
    assert all(make_client().get("/healthz").status_code == 200 for _ in range(30))  # off by default
    c = make_client(rate_limit_per_s=1, rate_limit_burst=3)
    codes = [c.get("/healthz").status_code for _ in range(5)]
    assert codes[:3] == [200, 200, 200] and 429 in codes[3:]
    r = c.get("/healthz")
    assert r.status_code == 429 and int(r.headers["retry-after"]) >= 1 and r.json()["error"]["code"] == "rate_limited"


# --- admission by cost --------------------------------------------------------------------------------

def test_heavy_computations_take_slots_and_light_ones_never_queue_behind_them(make_client, settings):
    import dataclasses

    from app.compute import engine_slot
    c = make_client(max_heavy_requests=1, heavy_queue_s=0, heavy_macs=10**8)
    s = dataclasses.replace(settings, max_heavy_requests=1, heavy_queue_s=0, heavy_macs=10**8)
    heavy = {"input": {"kind": "random", "shape": [64, 64, 64]}, "layer": {"out_channels": 64, "padding": 1},
             "encoding": "npy"}  # 64·64·9·64·64 = 150,994,944 MACs ≥ heavy_macs
    light = {"input": {"kind": "random", "shape": [3, 16, 16]}, "encoding": "npy"}
    with engine_slot(10**9, s):  # the worker's only heavy slot is taken
        busy = c.post("/api/convolve", json=heavy)
        assert busy.status_code == 503 and int(busy.headers["retry-after"]) >= 1
        err = busy.json()["error"]
        assert err["code"] == "busy" and "150,994,944 MACs" in err["message"]
        assert err["limit"] == "CONVLENS_MAX_HEAVY_REQUESTS"
        assert c.post("/api/convolve", json=light).status_code == 200      # light work runs at once
        assert c.post("/api/pointwise/fc", json={"channels": 64, "block": 16, "outputs": 64, "size": 64}
                      ).status_code == 503                                    # every engine endpoint takes slots
        transposed = c.post("/api/transposed", json={"input": {"kind": "random", "shape": [64, 64, 64]},
                                                     "layer": {"out_channels": 64, "kernel_size": 3},
                                                     "weights": {"kind": "random"}})
        assert transposed.status_code == 503                                 # 64·64·9·64·64 MACs
    assert c.post("/api/convolve", json=heavy).status_code == 200            # the slot is free again


@pytest.mark.parametrize("path", ["/api/convolve", "/api/trace", "/api/layer/check"])
def test_huge_padding_with_a_huge_stride_is_refused_before_allocating(client, path):
    """A 1×1 output from a padded input of 43 GB: the output limit passed it, and the engine's padding
    asked NumPy for 43 GB (a 500; below the machine's memory, an out-of-memory kill)."""
    body = {"layer": {"padding": 30000, "stride": 30000}}
    if path == "/api/trace":
        body["positions"] = [{"channel": 0, "row": 0, "col": 0}]
    res = client.post(path, json=body)
    if path == "/api/layer/check":  # the check answers valid: false with the error the run would give
        assert res.status_code == 200 and res.json()["valid"] is False, res.text
        error = res.json()["error"]
    else:
        assert res.status_code == 413, res.text
        error = res.json()["error"]
    assert "padded input elements" in error["message"]


def test_a_stride_longer_than_the_input_still_runs(client):
    res = client.post("/api/convolve", json={"layer": {"stride": 5000}})
    assert res.status_code == 200 and res.json()["output_shape"] == [4, 1, 1]
