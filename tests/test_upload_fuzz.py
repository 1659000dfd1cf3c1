"""Damaged uploads: a few bytes of a valid .npy, PNG, JPEG, GIF, BMP, WebP or TIFF changed (or the file
cut short) get a 4xx or decode; never a 500. Flipped bytes in .npy headers found 500s: NumPy parses the
header with ast.literal_eval, then tokenize, and a damaged one raised tokenize.TokenError."""
from __future__ import annotations

import io

import numpy as np
from hypothesis import HealthCheck, given, settings, strategies as st
from PIL import Image


def _files() -> dict[str, bytes]:
    rng = np.random.default_rng(0)
    img = Image.fromarray((rng.random((24, 32, 3)) * 255).astype(np.uint8))
    out = {}
    for fmt in ("PNG", "JPEG", "GIF", "BMP", "WEBP", "TIFF"):
        buf = io.BytesIO()
        img.save(buf, fmt)
        out[fmt.lower()] = buf.getvalue()
    buf = io.BytesIO()
    np.save(buf, rng.random((3, 8, 8)).astype(np.float32))
    out["npy"] = buf.getvalue()
    return out


FILES = _files()


@settings(max_examples=250, deadline=None, derandomize=True, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(kind=st.sampled_from(sorted(FILES)), data=st.data())
def test_a_damaged_upload_gets_a_4xx_or_decodes_never_a_500(client, kind, data):
    raw = bytearray(FILES[kind])
    head = min(len(raw), 160)  # headers live at the front: most changes land there
    for at, value in data.draw(st.lists(st.tuples(st.integers(0, head - 1), st.integers(0, 255)), min_size=1, max_size=6)):
        raw[at] = value
    cut = data.draw(st.one_of(st.none(), st.integers(1, len(raw) - 1)))
    body = bytes(raw[:cut] if cut else raw)
    res = client.post("/api/inputs", files={"file": (f"damaged.{kind}", body, "application/octet-stream")})
    assert res.status_code in (201, 413, 422), res.text
    if res.status_code == 201:
        conv = client.post("/api/convolve", json={"input": {"kind": "upload", "id": res.json()["id"]},
                                                  "layer": {"out_channels": 2}})
        assert conv.status_code < 500, conv.text[:300]
