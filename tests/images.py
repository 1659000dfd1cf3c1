"""Small test images made with Pillow in memory: nothing binary is committed."""
from __future__ import annotations

import io

import numpy as np
from PIL import Image


def encode(img: Image.Image, fmt: str, **kw) -> bytes:
    buf = io.BytesIO()
    img.save(buf, format=fmt, **kw)
    return buf.getvalue()


def rgb_gradient(h: int = 12, w: int = 16) -> np.ndarray:
    y, x = np.mgrid[0:h, 0:w]
    return np.stack([x * 255 // (w - 1), y * 255 // (h - 1), np.full_like(x, 128)], axis=-1).astype(np.uint8)


def png_rgb(h: int = 12, w: int = 16) -> bytes:
    return encode(Image.fromarray(rgb_gradient(h, w)), "PNG")


def npy(arr) -> bytes:
    buf = io.BytesIO()
    np.save(buf, arr, allow_pickle=True)
    return buf.getvalue()


def photo_png(h: int, w: int, seed: int = 0) -> bytes:
    """A photo-sized RGB PNG (smooth gradients plus noise), as a camera upload would be."""
    rng = np.random.default_rng(seed)
    base = rgb_gradient(h, w).astype(np.int16)
    noisy = base + rng.integers(-20, 21, size=base.shape)
    return encode(Image.fromarray(np.clip(noisy, 0, 255).astype(np.uint8)), "PNG")
