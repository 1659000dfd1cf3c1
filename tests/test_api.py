"""Every endpoint through HTTP (in process), good requests and bad ones."""
from __future__ import annotations

import io

import numpy as np
import pytest
import torch
import torch.nn.functional as F

import struct

from app.encoding import decode_array, decode_frame
from tests.images import npy, png_rgb

EDGES_SOBEL = {"input": {"kind": "sample", "name": "edges"}, "layer": {"padding": 1},
               "weights": {"kind": "preset", "name": "sobel_x"}}


def error_of(r, status):
    assert r.status_code == status, r.text
    body = r.json()["error"]
    assert body["message"] and body["code"]
    return body


def test_healthz_samples_presets(client):
    assert client.get("/healthz").json()["status"] == "ok"
    samples = client.get("/api/samples").json()
    assert {"colour", "edges", "zone_plate", "checker", "random8"} <= {s["name"] for s in samples}
    presets = {p["name"]: p for p in client.get("/api/presets").json()}
    assert presets["greyscale"]["kind"] == "1x1" and presets["sobel_x"]["kind"] == "kxk"


def test_convolve_matches_torch_on_an_upload(client):
    up = client.post("/api/inputs", files={"file": ("g.png", png_rgb(), "image/png")})
    assert up.status_code == 201
    info = up.json()
    assert info["shape"] == [3, 12, 16] and info["source"] == "upload"
    req = {"input": {"kind": "upload", "id": info["id"]},
           "layer": {"out_channels": 6, "kernel_size": [3, 2], "stride": 2, "padding": [1, 0], "dilation": 1,
                     "groups": 3, "activation": "relu"},
           "weights": {"kind": "random", "seed": 4}}
    res = client.post("/api/convolve", json=req).json()
    x = client.post("/api/convolve", json={**req, "layer": {"out_channels": 3, "kernel_size": 1, "groups": 3},
                                           "weights": {"kind": "preset", "name": "identity_1x1"}})
    assert x.status_code == 422  # the preset implies groups=1, the request said 3: refused, not ignored
    w, b = decode_array(res["weight"]), np.asarray(res["bias"], np.float32)
    img = np.asarray(decode_array(client.post("/api/convolve", json={
        "input": req["input"], "weights": {"kind": "preset", "name": "identity_1x1"}}).json()["output"]))
    ref = F.relu(F.conv2d(torch.from_numpy(img.copy()), torch.from_numpy(w.copy()), torch.from_numpy(b), 2,
                          (1, 0), 1, 3)).numpy()
    out = decode_array(res["output"])
    assert out.shape == ref.shape == tuple(res["output_shape"])
    assert np.abs(out - ref).max() <= 1e-5
    assert res["output"]["channel_min"] == pytest.approx(out.reshape(6, -1).min(1).tolist())
    assert res["cost"]["macs"] == 6 * out.shape[1] * out.shape[2] * 1 * 3 * 2
    assert res["layer"]["padding"] == [[1, 1], [0, 0]] and res["engine_ms"] > 0


def test_same_request_same_numbers_and_encodings_agree(client):
    req = {"input": {"kind": "random", "shape": [4, 9, 9], "seed": 3}, "layer": {"out_channels": 2}}
    a, b = client.post("/api/convolve", json=req).json(), client.post("/api/convolve", json=req).json()
    assert a["output"]["data"] == b["output"]["data"]
    as_list = client.post("/api/convolve", json={**req, "encoding": "list"}).json()
    assert np.array_equal(decode_array(as_list["output"]), decode_array(a["output"]))
    r = client.post("/api/convolve", json={**req, "encoding": "npy"})
    assert r.headers["content-type"] == "application/x-npy"
    assert np.array_equal(np.load(io.BytesIO(r.content), allow_pickle=False), decode_array(a["output"]))


@pytest.mark.parametrize("shape, out_channels, kernel", [([4, 9, 9], 2, 3), ([3, 5, 7], 3, 2), ([1, 1, 1], 1, 1)])
def test_binary_frame_holds_the_same_arrays_as_the_json(client, shape, out_channels, kernel):
    """Odd sizes on purpose: 3·5·7 and 2·… floats are not multiples of 8 bytes, so padding must line up."""
    req = {"input": {"kind": "random", "shape": shape, "seed": 5},
           "layer": {"out_channels": out_channels, "kernel_size": kernel}, "include_input": True}
    as_json = client.post("/api/convolve", json=req).json()
    r = client.post("/api/convolve", json={**req, "encoding": "binary"})
    assert r.status_code == 200 and r.headers["content-type"] == "application/x-convlens-frame"
    assert int(r.headers["content-length"]) == len(r.content)
    (n,) = struct.unpack_from("<I", r.content)
    assert (4 + n) % 8 == 0
    frame = decode_frame(r.content)
    offsets = []
    for key in ("input_array", "output", "weight"):
        a, b = as_json[key], frame[key]
        assert b["encoding"] == "binary" and b["data"].dtype == np.float32 and b["offset"] % 8 == 0
        assert np.array_equal(decode_array(a), decode_array(b))
        assert (b["channel_min"], b["channel_max"], b["shape"]) == (a["channel_min"], a["channel_max"], a["shape"])
        offsets.append((b["offset"], b["offset"] + b["nbytes"]))
    assert all(end <= start for (_, end), (start, _) in zip(sorted(offsets), sorted(offsets)[1:]))
    assert 4 + n + sorted(offsets)[-1][1] <= len(r.content) < 4 + n + sorted(offsets)[-1][1] + 8
    assert {k: v for k, v in frame.items() if k not in ("input_array", "output", "weight", "engine_ms")} == \
        {k: v for k, v in as_json.items() if k not in ("input_array", "output", "weight", "engine_ms")}


def test_binary_request_errors_are_still_json(client):
    err = error_of(client.post("/api/convolve", json={"layer": {"kernel_size": 500}, "encoding": "binary"}), 413)
    assert "kernel" in err["message"]


def test_presets_and_custom_weights(client):
    res = client.post("/api/convolve", json=EDGES_SOBEL).json()
    assert res["layer"]["kernel_size"] == [3, 3] and res["bias"] is None and res["cost"]["params"] == 9
    grey = client.post("/api/convolve", json={"weights": {"kind": "preset", "name": "greyscale"}}).json()
    assert grey["output_shape"][0] == 1 and grey["layer"]["kernel_size"] == [1, 1]
    custom = {"input": {"kind": "random", "shape": [2, 4, 4]},
              "weights": {"kind": "custom", "weight": [[[[1.0]], [[-1.0]]]], "bias": [0.5]}}
    out = decode_array(client.post("/api/convolve", json=custom).json()["output"])
    from app.inputs.samples import random_tensor
    x = random_tensor((2, 4, 4), 0)
    assert np.allclose(out[0], x[0] - x[1] + 0.5)


def test_trace_value_equals_convolve_output(client):
    req = {"input": {"kind": "sample", "name": "colour"},
           "layer": {"out_channels": 4, "kernel_size": 3, "stride": 2, "padding": 1, "dilation": 2},
           "weights": {"kind": "random", "seed": 9}}
    out = decode_array(client.post("/api/convolve", json=req).json()["output"])
    positions = [{"channel": 3, "row": 0, "col": 0}, {"channel": 1, "row": 20, "col": 33}]
    res = client.post("/api/trace", json={**req, "positions": positions,
                                          "region": {"channel": 0, "row_start": 2, "row_stop": 4,
                                                     "col_start": 5, "col_stop": 8}})
    traces = res.json()["traces"]
    assert len(traces) == 2 + 2 * 3
    for t in traces:
        assert t["value"] == pytest.approx(float(out[t["channel"], t["row"], t["col"]]), abs=1e-5)
        assert len(t["partial_sums"]) == 3 and t["input_channels"] == [0, 1, 2]
    assert traces[0]["input_rows"] == [-1, 1, 3] and traces[0]["is_padding"][0] == [True, True, True]


@pytest.mark.parametrize("body, status, fragment", [
    ({"layer": {"out_channels": 10**9}}, 413, "CONVLENS_MAX_CHANNELS"),
    ({"layer": {"stride": -1}}, 422, "stride (layer.stride) is -1; it must be a whole number ≥ 1"),
    ({"layer": {"kernel_size": 3.5}}, 422, "kernel_size"),
    ({"layer": {"stride": 2.5}}, 422, "stride"),  # 2.0 is 2 (tests/test_hardening_limits.py)
    ({"layer": {"kernel_size": 200}}, 413, "kernel height is 200"),
    ({"input": {"kind": "sample", "name": "checker"}, "layer": {"kernel_size": 60}}, 422,
     "larger than the padded input"),
    ({"layer": {"groups": 2}}, 422, "groups=2 must divide in_channels=3"),
    ({"layer": {"padding": "half"}}, 422, "padding"),
    ({"input": {"kind": "random", "shape": [1000, 1000, 1000]}}, 413, "input elements"),
    ({"input": {"kind": "random", "shape": [256, 128, 128]}, "layer": {"out_channels": 512}}, 413, "MACs"),
    ({"input": {"kind": "sample", "name": "nope"}}, 404, "known samples"),
    ({"input": {"kind": "upload", "id": "0" * 64}}, 404, "upload it again"),
    ({"input": {"kind": "upload", "id": "../etc"}}, 422, "id"),
    ({"weights": {"kind": "preset", "name": "nope"}}, 422, "known presets"),
    ({"input": {"kind": "sample", "name": "edges"}, "weights": {"kind": "preset", "name": "ycbcr"}}, 422,
     "needs an input with 3 channels"),
    ({"weights": {"kind": "custom", "weight": [[[[1, 2]], [[3]]]]}}, 422, "rectangular"),
    ({"weights": {"kind": "custom", "weight": [[[[1]]]]}}, 422, "does not match"),
    ({"weights": {"kind": "custom", "weight": [[[[1]], [[1]], [[1]]]], "bias": [1, 2]}}, 422, "one per output"),
    ({"layer": {"unknown": 1}}, 422, "unknown (layer.unknown) is not a field of this request"),
])
def test_bad_convolve_requests_get_a_clear_4xx(client, body, status, fragment):
    err = error_of(client.post("/api/convolve", json=body), status)
    # a limit's environment variable is for operators: in the `limit` field, never in the message
    assert (err["limit"] == fragment) if fragment.startswith("CONVLENS_") else (fragment in err["message"])
    assert "CONVLENS_" not in err["message"]


def test_malformed_and_oversized_bodies(make_client):
    c = make_client(max_json_bytes=2000)
    err = error_of(c.post("/api/convolve", content=b"{bad json", headers={"content-type": "application/json"}), 422)
    assert "JSON" in err["message"]
    deep = error_of(c.post("/api/convolve", content=b"[" * 1500, headers={"content-type": "application/json"}), 413)
    assert "nested 1,500 levels deep" in deep["message"] and deep["limit"] == "CONVLENS_MAX_JSON_DEPTH"
    big = error_of(c.post("/api/convolve", content=b" " * 5000), 413)
    assert "over 2,000 bytes" in big["message"] and big["limit"] == "CONVLENS_MAX_JSON_BYTES"


def test_trace_limits(make_client):
    c = make_client(max_trace_positions=10)
    err = error_of(c.post("/api/trace", json={**EDGES_SOBEL, "region": {"row_stop": 5, "col_stop": 5}}), 413)
    assert "trace positions is 25" in err["message"]
    assert error_of(c.post("/api/trace", json=EDGES_SOBEL), 422)["message"].startswith("give at least one")
    err = error_of(c.post("/api/trace", json={**EDGES_SOBEL, "positions": [{"row": 500}]}), 422)
    assert "outside the output" in err["message"]


@pytest.mark.parametrize("data, status, fragment", [
    (b"", 422, "empty"),
    (b"GIF89a" + b"\0" * 20, 422, "image"),
    (npy(np.array([object()], dtype=object)), 422, "pickle"),
])
def test_bad_uploads(client, data, status, fragment):
    err = error_of(client.post("/api/inputs", files={"file": ("x.png", data)}), status)
    assert fragment in err["message"]


def test_upload_limit_and_npy_upload(make_client):
    c = make_client(max_upload_bytes=50)
    err = error_of(c.post("/api/inputs", files={"file": ("a.png", png_rgb())}), 413)
    assert err["limit"] == "CONVLENS_MAX_UPLOAD_BYTES" and "at most 50 is allowed" in err["message"]
    c = make_client()
    info = c.post("/api/inputs", files={"file": ("t.npy", npy(np.ones((5, 4, 4), np.float32)))}).json()
    assert info["shape"] == [5, 4, 4]
    assert c.get(f"/api/inputs/{info['id']}").json()["source"] == "upload"


def test_an_uploaders_filename_is_never_shown_to_anyone(client):
    """The same content has one id for everyone: the first uploader's filename must not reach the next."""
    first = client.post("/api/inputs", files={"file": ("alice-passport-scan.png", png_rgb())}).json()
    second = client.post("/api/inputs", files={"file": ("bob.png", png_rgb())}).json()
    assert first["id"] == second["id"]
    for body in (first, second, client.get(f"/api/inputs/{first['id']}").json()):
        assert "alice" not in str(body) and "bob" not in str(body)


def test_an_id_with_a_trailing_newline_is_refused(client):
    info = client.post("/api/inputs", files={"file": ("t.png", png_rgb())}).json()
    assert client.get(f"/api/inputs/{info['id']}").status_code == 200
    assert "not a valid id" in error_of(client.get(f"/api/inputs/{info['id']}%0A"), 404)["message"]


def test_previews_are_pngs(client):
    r = client.get("/api/samples/colour/preview.png")
    assert r.status_code == 200 and r.content[:8] == b"\x89PNG\r\n\x1a\n"
    assert client.get("/api/samples/random8/preview.png?channel=7").status_code == 200
    assert error_of(client.get("/api/samples/random8/preview.png?channel=8"), 404)
    info = client.post("/api/inputs", files={"file": ("g.png", png_rgb())}).json()
    assert client.get(f"/api/inputs/{info['id']}/preview.png").content[:4] == b"\x89PNG"
    assert error_of(client.get("/api/inputs/abc/preview.png"), 404)


def test_pages_static_files_and_headers(client):
    r = client.get("/")
    assert r.status_code == 200 and "zone_plate" in r.text and "/docs" in r.text
    assert "default-src 'self'" in r.headers["content-security-policy"]
    js = client.get("/static/vendor/plotly-cartesian.min.js")
    assert js.status_code == 200 and len(js.content) > 1_000_000
    assert js.headers["cache-control"] == "public, max-age=86400" and "content-encoding" not in js.headers
    assert client.get("/static/vendor/plotly-cartesian.min.js",
                      headers={"if-none-match": js.headers["etag"]}).status_code == 304
    assert client.get("/static/js/conv.js").headers["cache-control"] == "no-cache"
    assert client.get("/vendor/plotly/plotly.min.js").status_code == 404  # files are served from static/ only
    assert client.get("/static/../app/settings.py").status_code == 404
    assert client.get("/docs").status_code == 200
    schema = client.get("/openapi.json").json()
    assert {"/api/convolve", "/api/trace", "/api/inputs", "/api/samples", "/api/presets"} <= set(schema["paths"])


def test_cors_is_off_by_default_and_configurable(make_client):
    origin = {"origin": "http://example.test"}
    assert "access-control-allow-origin" not in make_client().get("/healthz", headers=origin).headers
    c = make_client(cors_origins="http://example.test")
    assert c.get("/healthz", headers=origin).headers["access-control-allow-origin"] == "http://example.test"


def test_layer_check_explains_with_the_layers_numbers(client):
    req = {"input": {"kind": "sample", "name": "colour"},
           "layer": {"out_channels": 6, "kernel_size": 4, "padding": "same", "groups": 3}}
    res = client.post("/api/layer/check", json=req).json()
    assert res["output_shape"] == [6, 96, 128]
    assert res["layer"]["padding"] == [[1, 2], [1, 2]]  # torch's "same": the extra row/column at the end
    assert res["formulas"]["out_height"] == "H_out = ⌊(96 + 1 + 2 − 1·(4 − 1) − 1) / 1⌋ + 1 = 96"
    assert res["formulas"]["params"].endswith(f"= {6 * 1 * 4 * 4 + 6}")
    assert res["formulas"]["macs"].endswith(f"= {6 * 96 * 128 * 1 * 4 * 4:,}")
    assert "padding='same'" in res["formulas"]["torch"] and "groups=3" in res["formulas"]["torch"]
    assert res["connectivity"] == [[0], [0], [1], [1], [2], [2]]
    dense = client.post("/api/layer/check", json={**req, "layer": {"out_channels": 2, "padding": 1}}).json()
    assert dense["connectivity"] == [[0, 1, 2], [0, 1, 2]] and "padding=(1, 1)" in dense["formulas"]["torch"]
    bad = client.post("/api/layer/check", json={**req, "layer": {"groups": 2}}).json()
    assert not bad["valid"] and bad["error"]["status"] == 422
    assert "groups=2 must divide in_channels=3" in bad["error"]["message"]
    huge = client.post("/api/layer/check", json={"input": {"kind": "random", "shape": [1024, 4096, 4096]}}).json()
    assert huge["error"]["status"] == 413  # refused from the shape alone, nothing generated
    assert res["valid"] and res["error"] is None


def test_convolve_png_channel_and_included_input(client):
    r = client.post("/api/convolve", json={"encoding": "png", "channel": 3})
    assert r.status_code == 200 and r.content[:4] == b"\x89PNG"
    assert "channels 0..3" in error_of(client.post("/api/convolve", json={"encoding": "png", "channel": 4}),
                                       404)["message"]
    res = client.post("/api/convolve", json={"input": {"kind": "sample", "name": "checker"},
                                             "include_input": True}).json()
    from app.inputs.samples import sample_tensor
    assert np.array_equal(decode_array(res["input_array"]), sample_tensor("checker"))


def test_vendored_plotly_matches_the_installed_package():
    """static/vendor holds plotly.js's cartesian bundle of the same release the plotly package ships."""
    import re
    from app.paths import PLOTLY_JS_DIR, STATIC
    version = lambda text: re.search(r"plotly\.js(?: \(cartesian - minified\))? v(\d+\.\d+\.\d+)", text).group(1)
    vendored = (STATIC / "vendor" / "plotly-cartesian.min.js").read_text(encoding="utf-8")[:400]
    full = (PLOTLY_JS_DIR / "plotly.min.js").read_text(encoding="utf-8")[:400]
    assert version(vendored) == version(full)


def test_a_bug_answers_500_without_a_stack_trace(settings):
    from fastapi.testclient import TestClient
    from app.main import create_app
    app = create_app(settings)

    @app.get("/boom")
    def boom():
        raise RuntimeError("secret internal detail")
    r = TestClient(app, raise_server_exceptions=False).get("/boom")
    assert r.status_code == 500 and r.json() == {"error": {"code": "internal_error",
                                                         "message": "internal error; it has been logged"}}
    assert "secret" not in r.text and "Traceback" not in r.text


def test_the_trace_json_holds_the_same_values_as_json_dumps_would(client):
    """/api/trace is written by orjson: every float parses to the value the standard encoder writes."""
    import json

    from app.compute_convolve import trace
    from app.schemas import TraceRequest
    body = {"input": {"kind": "sample", "name": "colour"}, "layer": {"kernel_size": [5, 3], "padding": 1, "out_channels": 4},
            "weights": {"kind": "random", "seed": 3}, "region": {"channel": 2, "row_start": 20, "row_stop": 26,
                                                                 "col_start": 70, "col_stop": 79}}
    res = client.post("/api/trace", json=body)
    assert res.status_code == 200 and res.headers["content-type"] == "application/json"
    want = json.loads(json.dumps(trace(TraceRequest.model_validate(body), None, client.app.state.settings)))
    assert res.json() == want and len(want["traces"]) == 54
