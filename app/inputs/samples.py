"""Built-in inputs, drawn by this code at first use (nothing is downloaded), each chosen to make one
lesson visible. All are float32 (C, H, W) in [0, 1] except the random tensor."""
from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache
from typing import Callable

import numpy as np


def _grid(h: int, w: int) -> tuple[np.ndarray, np.ndarray]:
    y, x = np.mgrid[0:h, 0:w].astype(np.float32)
    return y / (h - 1), x / (w - 1)


def colour_blocks(h: int = 96, w: int = 128) -> np.ndarray:
    """Saturated red, green, blue, yellow, cyan and magenta discs on a hue ramp: greyscale conversion
    turns distinct colours into similar greys, and a channel swap visibly recolours them."""
    y, x = _grid(h, w)
    hue = x * 6.0
    ramp = np.stack([np.clip(np.abs(hue - 3) - 1, 0, 1), np.clip(2 - np.abs(hue - 2), 0, 1),
                     np.clip(2 - np.abs(hue - 4), 0, 1)])  # (3, H, W) a rainbow left to right
    img = ramp * (0.35 + 0.4 * y)
    colours = [(1, 0, 0), (0, 1, 0), (0, 0, 1), (1, 1, 0), (0, 1, 1), (1, 0, 1)]
    for i, c in enumerate(colours):
        cy, cx = (0.3 if i < 3 else 0.72), (i % 3 + 0.5) / 3
        disc = ((y - cy) * h) ** 2 + ((x - cx) * w) ** 2 < (0.16 * h) ** 2
        img[:, disc] = np.asarray(c, dtype=np.float32)[:, None]
    return img.astype(np.float32)


def edges(h: int = 96, w: int = 96) -> np.ndarray:
    """A square, a disc, a diagonal bar and a horizontal band on grey: edges in every direction, for
    Sobel x/y (one orientation each) and the Laplacian (all of them)."""
    y, x = _grid(h, w)
    img = np.full((h, w), 0.2, dtype=np.float32)
    img[(y > 0.1) & (y < 0.45) & (x > 0.08) & (x < 0.42)] = 0.9
    img[(y - 0.28) ** 2 + (x - 0.72) ** 2 < 0.17 ** 2] = 0.65
    img[np.abs((y - 0.75) - (x - 0.3)) < 0.05] = 1.0
    img[(y > 0.86) & (y < 0.94)] = 0.5
    return img[None]


def stripes(h: int = 64, w: int = 64) -> np.ndarray:
    """A zone plate: rings whose frequency rises outwards, so a stride of 2 visibly aliases."""
    y, x = _grid(h, w)
    r2 = (y - 0.5) ** 2 + (x - 0.5) ** 2
    return (0.5 + 0.5 * np.cos(np.pi * 90 * r2)).astype(np.float32)[None]


def checker(h: int = 48, w: int = 48) -> np.ndarray:
    """A one-pixel checkerboard: any 2×2 average turns it flat grey, a stride of 2 turns it constant."""
    y, x = np.mgrid[0:h, 0:w]
    return ((y + x) % 2).astype(np.float32)[None]


def random_tensor(shape: tuple[int, int, int], seed: int, distribution: str = "normal") -> np.ndarray:
    """Seeded with NumPy's PCG64, so the same seed gives the same tensor on every worker and run."""
    rng = np.random.default_rng(seed)
    if distribution == "uniform":
        return rng.random(shape, dtype=np.float32)
    return rng.standard_normal(shape, dtype=np.float32)


@dataclass(frozen=True)
class Sample:
    name: str
    description: str
    make: Callable[[], np.ndarray]


SAMPLES: dict[str, Sample] = {s.name: s for s in [
    Sample("colour", "RGB discs on a rainbow: greyscale and channel swaps are easy to see.", colour_blocks),
    Sample("edges", "Grey shapes with edges in every direction, for Sobel and Laplacian.", edges),
    Sample("zone_plate", "Rings of rising frequency: stride and aliasing show at once.", stripes),
    Sample("checker", "A one-pixel checkerboard: the finest pattern an image can hold.", checker),
    Sample("random8", "An 8-channel 16×16 random normal tensor (seed 0), like a hidden layer's activations.",
           lambda: random_tensor((8, 16, 16), seed=0)),
]}


@lru_cache(maxsize=None)
def sample_tensor(name: str) -> np.ndarray:
    arr = SAMPLES[name].make()
    arr.setflags(write=False)  # shared by every request; nobody may modify it
    return arr
