"""The built-in digits model's input format, the one place it is defined.

scikit-learn's digits are 8×8 images of 0..16: each value counts the inked pixels of a 4×4 block of a
32×32 bitmap. The model sees them scaled to [0, 1] and upscaled ×4 (nearest) to 32×32. A drawing from
the page goes the same way once its ink's bounding box is fitted into the square (app.models.image_input.
ink_to_digit): its grey levels are averaged over 8×8 blocks, rounded to 0..16, upscaled.
"""
from __future__ import annotations

import numpy as np

from app.errors import ConvlensError

LEVELS = 16          # digits' values run 0..16
GRID = 8             # digits are 8×8
SCALE = 4            # upscaled to 32×32


def digits_to_input(images: np.ndarray) -> np.ndarray:
    """(N, 8, 8) of 0..16 → (N, 1, 32, 32) float32 in [0, 1]."""
    x = np.asarray(images, dtype=np.float32) / LEVELS
    return np.kron(x, np.ones((SCALE, SCALE), dtype=np.float32))[:, None]  # (N, 1, 32, 32)


def checked_drawing(grey: np.ndarray) -> np.ndarray:
    """A square drawing (S, S), S a multiple of 8, of finite grey levels in [0, 1], as float64."""
    grey = np.asarray(grey, dtype=np.float64)
    s = grey.shape[0] if grey.ndim else 0
    if grey.ndim != 2 or grey.shape[1] != s or s % GRID or s == 0:
        raise ConvlensError(f"a drawing must be a square grid whose side is a multiple of {GRID}, got {list(grey.shape)}")
    if not np.isfinite(grey).all() or grey.min() < 0 or grey.max() > 1:
        raise ConvlensError("drawing values must be finite grey levels in [0, 1] (ink = 1)")
    return grey


def drawing_to_digit(grey: np.ndarray) -> np.ndarray:
    """A square drawing (S, S), S a multiple of 8, ink = 1, paper = 0 → the 8×8 digit of 0..16."""
    grey = checked_drawing(grey)
    b = grey.shape[0] // GRID
    blocks = grey.reshape(GRID, b, GRID, b).mean(axis=(1, 3))  # (8, 8) ink fraction per block
    return np.rint(blocks * LEVELS).astype(np.uint8)
