"""Decoding uploads, seeded random tensors, built-in samples and the content-addressed store."""
from __future__ import annotations

import dataclasses
import os
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx
import numpy as np
import pytest
from PIL import Image

from app.errors import BadUpload, ImageTooLarge, LimitExceeded, NotFound
from app.inputs.decode import decode_upload
from app.inputs.samples import SAMPLES, random_tensor, sample_tensor
from app.inputs.store import InputStore, tensor_id
from app.settings import Settings
from tests.images import encode, npy, png_rgb, rgb_gradient

S = Settings()
ROOT = Path(__file__).resolve().parent.parent


@pytest.mark.parametrize("fmt", ["PNG", "BMP", "TIFF", "WEBP"])
def test_lossless_formats_decode_exactly(fmt):
    pixels = rgb_gradient()
    kw = {"lossless": True} if fmt == "WEBP" else {}
    arr = decode_upload(encode(Image.fromarray(pixels), fmt, **kw), S)
    assert arr.shape == (3, 12, 16) and arr.dtype == np.float32
    assert np.array_equal(arr, pixels.transpose(2, 0, 1) / np.float32(255))


def test_jpeg_decodes_close_to_the_original():
    arr = decode_upload(encode(Image.fromarray(rgb_gradient()), "JPEG", quality=95), S)
    assert arr.shape == (3, 12, 16)
    assert np.abs(arr - rgb_gradient().transpose(2, 0, 1) / 255).max() < 0.1


def test_gif_gives_its_first_frame():
    frames = [Image.fromarray(np.full((4, 4), v, np.uint8)).convert("P") for v in (0, 255)]
    data = encode(frames[0], "GIF", save_all=True, append_images=frames[1:])
    arr = decode_upload(data, S)
    assert arr.max() == 0  # the black first frame, not the white second


def test_greyscale_gives_one_channel_and_16_bit_keeps_precision():
    assert decode_upload(encode(Image.fromarray(np.zeros((5, 7), np.uint8)), "PNG"), S).shape == (1, 5, 7)
    deep = np.array([[0, 1, 65535]], dtype=np.uint16)
    arr = decode_upload(encode(Image.fromarray(deep), "PNG"), S)
    assert arr.shape == (1, 1, 3)
    assert np.allclose(arr[0, 0], [0, 1 / 65535, 1.0])


def test_alpha_is_dropped_unless_kept():
    rgba = np.zeros((3, 3, 4), np.uint8)
    rgba[..., 3] = 200
    data = encode(Image.fromarray(rgba), "PNG")
    assert decode_upload(data, S).shape == (3, 3, 3)
    kept = decode_upload(data, S, keep_alpha=True)
    assert kept.shape == (4, 3, 3) and np.allclose(kept[3], 200 / 255)


@pytest.mark.parametrize("mode", ["RGBA", "LA"])
def test_a_transparent_background_is_white_paper_not_its_hidden_colour(mode):
    """Drawing programs leave black under a transparent background: dropping the alpha made a black digit
    on it black on black. Over white, as every viewer shows it: value = a·colour + (1 − a)·1."""
    c = len(mode)
    px = np.zeros((2, 3, c), np.uint8)      # black everywhere…
    px[0, :, -1] = 255                      # …opaque in row 0 (the ink),
    px[1, 0, -1], px[1, 1, -1] = 0, 51      # transparent, then alpha 51/255 = 0.2, then alpha 0 in row 1
    arr = decode_upload(encode(Image.fromarray(px, mode), "PNG"), S)
    assert arr.shape == (c - 1 if c == 4 else 1, 2, 3)
    assert np.allclose(arr[:, 0], 0)        # the ink stays black
    assert np.allclose(arr[:, 1, 0], 1) and np.allclose(arr[:, 1, 2], 1)  # transparent → white
    assert np.allclose(arr[:, 1, 1], 1 - 51 / 255, atol=1 / 255)  # 20 % black ink over white paper
    assert np.allclose(decode_upload(encode(Image.fromarray(px, mode), "PNG"), S, keep_alpha=True)[:-1], 0)


def test_npy_shapes_and_dtypes():
    assert decode_upload(npy(np.ones((4, 5), np.uint8)), S).shape == (1, 4, 5)
    arr = decode_upload(npy(np.arange(24, dtype=np.float64).reshape(2, 3, 4)), S)
    assert arr.dtype == np.float32 and arr[1, 2, 3] == 23


@pytest.mark.parametrize("data, message", [
    (b"", "empty"),
    (b"\x89PNG\r\n\x1a\n" + os.urandom(64), "not a readable image"),
    (os.urandom(256), "not a readable image"),
    (png_rgb()[:-30], "corrupt or truncated"),
    (npy(np.array([{"a": 1}], dtype=object)), "dtype object is not allowed"),
    (npy(np.array([[np.nan, 1.0]])), "NaN or infinite"),
    (npy(np.zeros((2, 2, 2, 2))), "shape must be [C, H, W] or [H, W]"),
    (npy(np.array(["a", "b"])), "is not allowed"),
], ids=["empty", "png-signature-then-noise", "noise", "truncated-png", "pickled-object", "nan", "4d", "strings"])
def test_bad_uploads_are_refused_with_a_reason(data, message):
    with pytest.raises(BadUpload) as err:
        decode_upload(data, S)
    assert message in err.value.message


def test_decompression_bomb_is_refused_before_decoding():
    small = dataclasses.replace(S, max_image_pixels=100 * 100)
    bomb = encode(Image.new("L", (1000, 1000)), "PNG")  # a few KB that decode to a megapixel
    assert len(bomb) < 10_000
    with pytest.raises((BadUpload, LimitExceeded, ImageTooLarge)) as err:
        decode_upload(bomb, small)
    assert "10,000" in str(err.value)


@pytest.mark.parametrize("mode, keep_alpha, channels", [("RGB", False, 3), ("RGBA", True, 4), ("LA", True, 2)])
def test_an_image_over_the_element_limit_is_refused_from_its_header(monkeypatch, mode, keep_alpha, channels):
    """C·H·W counted from the header's mode and size; nothing is decoded (load() is never reached)."""
    data = encode(Image.new(mode, (64, 48)), "PNG")
    tight = dataclasses.replace(S, max_input_elements=channels * 64 * 48 - 1)
    monkeypatch.setattr(Image.Image, "load", lambda im: pytest.fail("decoded before the size check"))
    with pytest.raises(LimitExceeded, match=f"input elements C·H·W is {channels * 64 * 48:,}"):
        decode_upload(data, tight, keep_alpha=keep_alpha)


def test_exif_rotation_is_applied_to_the_header_check():
    """A 40 wide × 20 high JPEG tagged 'rotate 90°' becomes 20 × 40: the header check sees it rotated."""
    exif = Image.Exif()
    exif[0x0112] = 6
    data = encode(Image.new("RGB", (40, 20)), "JPEG", exif=exif)
    assert decode_upload(data, dataclasses.replace(S, max_width=20, max_height=40)).shape == (3, 40, 20)
    with pytest.raises(LimitExceeded, match="image height is 40"):
        decode_upload(data, dataclasses.replace(S, max_width=40, max_height=39))


DECODE_RSS = """
import sys, threading
from app.inputs.decode import decode_upload
from app.errors import ConvlensError
from app.settings import Settings

def hwm_kb():
    return next(int(line.split()[1]) for line in open("/proc/self/status") if line.startswith("VmHWM"))

data = open(sys.argv[1], "rb").read()
before = hwm_kb()
codes = []
def one():
    try:
        decode_upload(data, Settings())
    except ConvlensError as exc:
        codes.append(exc.status_code)
threads = [threading.Thread(target=one) for _ in range(8)]
for t in threads: t.start()
for t in threads: t.join()
print(codes, (hwm_kb() - before) / 1024)
"""


def test_eight_solid_4096_pngs_at_once_are_refused_in_bounded_memory(tmp_path):
    """The issue's 58 KB solid 4096×4096 PNG took +528 MB before its 413 (8 at once, +3.1 GB). Measured
    as the peak resident memory (VmHWM) of a fresh process decoding it in 8 threads at once."""
    path = tmp_path / "solid.png"
    path.write_bytes(encode(Image.new("RGB", (4096, 4096), (200, 30, 90)), "PNG"))
    assert path.stat().st_size < 100_000
    out = subprocess.run([sys.executable, "-c", DECODE_RSS, str(path)], capture_output=True, text=True,
                         timeout=120, env={**os.environ, "PYTHONPATH": str(ROOT)})
    assert out.returncode == 0, out.stderr
    codes, growth_mb = out.stdout.split("]")
    assert codes == "[" + ", ".join(["413"] * 8)
    assert float(growth_mb) < 50, f"peak memory grew by {growth_mb} MB"


def test_size_limits_name_their_setting():
    tight = dataclasses.replace(S, max_upload_bytes=10)
    with pytest.raises(LimitExceeded) as refused:
        decode_upload(png_rgb(), tight)
    assert refused.value.limit == "CONVLENS_MAX_UPLOAD_BYTES" and "CONVLENS" not in refused.value.message
    with pytest.raises(LimitExceeded, match="input channels is 3, but at most 2 is allowed"):
        decode_upload(npy(np.zeros((3, 2, 2), np.float32)), dataclasses.replace(S, max_channels=2))


def test_random_tensors_are_seeded_and_samples_are_all_there():
    assert np.array_equal(random_tensor((2, 3, 4), 5), random_tensor((2, 3, 4), 5))
    assert not np.array_equal(random_tensor((2, 3, 4), 5), random_tensor((2, 3, 4), 6))
    u = random_tensor((1, 50, 50), 0, "uniform")
    assert u.min() >= 0 and u.max() < 1
    assert len(SAMPLES) >= 4
    for name in SAMPLES:
        arr = sample_tensor(name)
        assert arr.ndim == 3 and arr.dtype == np.float32 and np.isfinite(arr).all()
    assert sample_tensor("colour").shape[0] == 3 and sample_tensor("random8").shape[0] == 8


def test_store_is_content_addressed_and_survives_a_new_instance(tmp_path):
    store = InputStore(tmp_path, 10**9)
    a = np.arange(12, dtype=np.float32).reshape(1, 3, 4)
    m1, m2 = store.put(a), store.put(a.copy())
    assert m1.id == m2.id == tensor_id(a) and len(m1.id) == 64
    again, meta = InputStore(tmp_path, 10**9).get(m1.id)  # e.g. another worker, or after a restart
    assert np.array_equal(again, a) and meta.source == "upload"
    assert InputStore(tmp_path, 10**9).info(m1.id).shape == (1, 3, 4)  # from the .npy header
    assert not list((tmp_path / "tmp").iterdir())  # nothing half-written is left behind


def test_store_evicts_least_recently_used(tmp_path):
    one = np.zeros((1, 64, 64), np.float32)
    entry = -(-(one.nbytes + 128) // 4096) * 4096  # one input on disk: header + data in whole 4 KiB blocks
    store = InputStore(tmp_path, quota_bytes=int(2.5 * entry), grace_s=0)
    ids = []
    for k in range(3):
        ids.append(store.put(one + k).id)
        time.sleep(0.02)
        if k == 1:
            store.get(ids[0])  # touch the first: now the second is the least recently used
            time.sleep(0.02)
    store.get(ids[0]), store.get(ids[2])
    with pytest.raises(NotFound, match="upload it again"):
        store.get(ids[1])
    assert store.usage_bytes() == store.rescan() == 2 * entry


@pytest.mark.parametrize("bad", ["../../etc/passwd", "a" * 64 + "\n", "A" * 64, "a" * 63])
def test_store_refuses_ids_that_are_not_hashes(tmp_path, bad):
    store = InputStore(tmp_path, 10**6)
    with pytest.raises(NotFound, match="not a valid id"):
        store.get(bad)
    with pytest.raises(NotFound, match="not a valid id"):
        store.info(bad)


def _status_kb(pid: int, key: str) -> int:
    return next(int(line.split()[1]) for line in Path(f"/proc/{pid}/status").read_text().splitlines()
                if line.startswith(key + ":"))


def test_the_server_refuses_eight_solid_4096_pngs_at_once_without_growing(live_server_process):
    """The same PNG row, against the live server: its peak resident memory (VmHWM, reset to the current
    RSS first through /proc/<pid>/clear_refs) stays within 50 MB of where it was, and it keeps answering."""
    url, proc = live_server_process
    data = encode(Image.new("RGB", (4096, 4096), (200, 30, 90)), "PNG")
    with httpx.Client(base_url=url, timeout=60) as c:
        assert c.post("/api/inputs", files={"file": ("warm.png", png_rgb())}).status_code == 201
    Path(f"/proc/{proc.pid}/clear_refs").write_text("5")  # VmHWM := VmRSS
    before = _status_kb(proc.pid, "VmHWM")

    def upload(_) -> httpx.Response:
        with httpx.Client(base_url=url, timeout=60) as c:
            return c.post("/api/inputs", files={"file": ("solid.png", data)})
    with ThreadPoolExecutor(8) as pool:
        responses = list(pool.map(upload, range(8)))
    assert [r.status_code for r in responses] == [413] * 8
    assert all("input elements C·H·W is 50,331,648" in r.json()["error"]["message"] for r in responses)
    growth_mb = (_status_kb(proc.pid, "VmHWM") - before) / 1024
    assert growth_mb < 50, f"the server's peak memory grew by {growth_mb:.0f} MB"
    assert httpx.get(url + "/healthz").status_code == 200
