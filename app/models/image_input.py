"""A photo or drawing (an uploaded image, already decoded to (C, H, W) in [0, 1] by app/inputs) → the
(1, C, H, W) tensor a model reads. The one place this conversion is defined; the page only shows it.

- The built-in digits model gets the dataset's format (app/models/digits.py): greyscale, ink bright on a
  dark ground (a photo of dark ink on light paper is inverted: its border is the paper), contrast
  stretched from the paper's level to the darkest ink, the ink's bounding box fitted into 32×32 (aspect
  kept, centred, as the dataset's digits fill their box), then the same 8×8 block means rounded to 0..16
  and ×4 upscaling as a drawing from the pad.
- Any other model gets its channel count (luma for 1, the grey repeated for 3 from a grey image) and its
  H×W (aspect kept, centred, the rest 0), values left in [0, 1]: an ONNX file does not carry its
  training's normalisation, so none is guessed.
"""
from __future__ import annotations

from typing import Optional

import numpy as np
from PIL import Image

from app.errors import ConvlensError
from app.models.digits import GRID, SCALE, digits_to_input, drawing_to_digit

LUMA = np.array([0.299, 0.587, 0.114], dtype=np.float64)  # ITU-R 601, as Pillow's convert("L")
INK = 0.1  # after the stretch, ink at least this strong counts for the bounding box (faint noise does not):
#           the dataset's digit boxes are those of any ink, and their height always fills the 8 rows


def to_grey(img: np.ndarray) -> np.ndarray:
    """(C, H, W) → (H, W) float64: luma for RGB, the mean of the channels otherwise."""
    img = np.asarray(img, dtype=np.float64)
    if img.shape[0] == 3:
        return np.tensordot(LUMA, img, axes=1)  # (H, W)
    return img.mean(axis=0)


def _resize(plane: np.ndarray, h: int, w: int) -> np.ndarray:
    """Area-averaging resize of one (H, W) plane (Pillow's BOX filter on 32-bit float)."""
    im = Image.fromarray(np.ascontiguousarray(plane, dtype=np.float32), mode="F")
    return np.asarray(im.resize((w, h), Image.Resampling.BOX), dtype=np.float64)


def fit(planes: np.ndarray, h: int, w: int) -> np.ndarray:
    """(C, h0, w0) → (C, h, w): scaled to fit with its aspect ratio kept, centred, the margin 0."""
    c, h0, w0 = planes.shape
    scale = min(h / h0, w / w0)
    nh, nw = max(1, min(h, round(h0 * scale))), max(1, min(w, round(w0 * scale)))
    out = np.zeros((c, h, w), dtype=np.float64)
    top, left = (h - nh) // 2, (w - nw) // 2
    for k in range(c):
        out[k, top:top + nh, left:left + nw] = _resize(planes[k], nh, nw)
    return out


def ink_up(grey: np.ndarray, invert: Optional[bool] = None) -> np.ndarray:
    """(H, W) grey → ink levels in [0, 1], ink = 1. ``invert`` None decides from the border: a light border
    is paper around dark ink, so the image is inverted. The paper's level (the median pixel: most of a page
    is paper) maps to 0 and the strongest ink to 1."""
    if invert is None:
        border = np.concatenate([grey[0], grey[-1], grey[:, 0], grey[:, -1]])
        invert = bool(np.median(border) > 0.5)
    g = 1.0 - grey if invert else grey
    paper = float(np.median(g))
    span = float(g.max()) - paper
    if span <= 1e-6:
        return np.zeros_like(g)  # one flat grey: no ink at all
    return np.clip((g - paper) / span, 0.0, 1.0)


def image_to_digit(img: np.ndarray, invert: Optional[bool] = None) -> np.ndarray:
    """(C, H, W) image → the dataset's 8×8 digit of 0..16 (the drawing pad's path from there on)."""
    return ink_to_digit(ink_up(to_grey(img), invert))


def ink_to_digit(ink: np.ndarray) -> np.ndarray:
    """(H, W) ink levels in [0, 1], ink = 1 (a photo's after ink_up, or the pad's drawing) → the dataset's
    8×8 digit of 0..16: the ink's bounding box fitted into 32×32, aspect kept and centred, as the
    dataset's digits fill their box, then block means. A digit drawn small in a corner of the pad is
    then the digit the model was trained on, not a few inked blocks in a corner."""
    rows, cols = np.nonzero(ink >= INK)
    if rows.size:
        ink = ink[rows.min():rows.max() + 1, cols.min():cols.max() + 1]  # the digit's bounding box
    side = GRID * SCALE
    return drawing_to_digit(fit(ink[None], side, side)[0])


def image_to_model_input(img: np.ndarray, want: tuple[int, ...], digits_format: bool,
                         invert: Optional[bool] = None) -> np.ndarray:
    """(C, H, W) in [0, 1] → the (1, C', H', W') float32 tensor of shape ``want`` the model reads."""
    if img.ndim != 3 or 0 in img.shape:
        raise ConvlensError(f"an image input must be [C, H, W], got {list(img.shape)}")
    if not np.isfinite(img).all():
        raise ConvlensError("the image has NaN or infinite values")
    if digits_format:
        return digits_to_input(image_to_digit(img, invert)[None])
    _, c, h, w = want
    if c == 1:
        planes = to_grey(img)[None]
    elif img.shape[0] == c:
        planes = np.asarray(img, dtype=np.float64)
    elif img.shape[0] == 1:
        planes = np.repeat(np.asarray(img, dtype=np.float64), c, axis=0)
    else:
        raise ConvlensError(f"this model reads {c} channels; an image with {img.shape[0]} channels can only be "
                            f"turned into 1 (grey) or {img.shape[0]}")
    return fit(planes, h, w).astype(np.float32)[None]
