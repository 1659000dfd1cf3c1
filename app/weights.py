"""Where a layer's weights come from: a seeded random draw, a named preset, or the user's numbers.

Presets are small, well-known filters, each with a one-line description for the UI. k×k presets are
written as cross-correlation kernels (PyTorch's convention); with ``flip=True`` the engine rotates them.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

import numpy as np

from app.engine import GeometryError


def random_weights(shape: tuple[int, int, int, int], seed: int, with_bias: bool
                   ) -> tuple[np.ndarray, np.ndarray | None]:
    """Kaiming-normal scale, std = √(2 / fan_in), fan_in = C_in/groups · kH · kW; seeded, so every
    worker and every run draws the same numbers."""
    rng = np.random.default_rng(seed)
    fan_in = shape[1] * shape[2] * shape[3]
    w = (rng.standard_normal(shape) * np.sqrt(2.0 / fan_in)).astype(np.float32)
    b = (rng.standard_normal(shape[0]) * 0.1).astype(np.float32) if with_bias else None
    return w, b


@dataclass(frozen=True)
class Preset:
    name: str
    kind: str            # "kxk" (spatial, one kernel per channel) or "1x1" (channel mixing)
    description: str
    needs_channels: int | None = None


@dataclass(frozen=True)
class PresetLayout:
    """A preset's layer shape for a given input, known before any weight is allocated."""
    out_channels: int
    kernel: tuple[int, int]
    groups: int
    has_bias: bool


_G = np.outer([1, 2, 1], [1, 2, 1]) / 16.0
SPATIAL_KERNELS: dict[str, tuple[str, list[list[float]]]] = {
    "identity": ("Copies each channel: a 1 in the centre, 0 elsewhere.", [[0, 0, 0], [0, 1, 0], [0, 0, 0]]),
    "box_blur": ("Averages each 3×3 neighbourhood equally (each weight 1/9).", (np.ones((3, 3)) / 9).tolist()),
    "gaussian": ("Weighted 3×3 blur, [1 2 1]ᵀ[1 2 1]/16: nearer pixels count more.", _G.tolist()),
    "sharpen": ("Centre ×5 minus its 4 neighbours: boosts local contrast.", [[0, -1, 0], [-1, 5, -1], [0, -1, 0]]),
    "sobel_x": ("Horizontal gradient: responds to vertical edges (right minus left).",
                [[-1, 0, 1], [-2, 0, 2], [-1, 0, 1]]),
    "sobel_y": ("Vertical gradient: responds to horizontal edges (bottom minus top).",
                [[-1, -2, -1], [0, 0, 0], [1, 2, 1]]),
    "laplacian": ("Sum of second derivatives: zero on flat areas and ramps, strong on edges.",
                  [[0, 1, 0], [1, -4, 1], [0, 1, 0]]),
    "emboss": ("Diagonal relief: light from the top-left.", [[-2, -1, 0], [-1, 1, 1], [0, 1, 2]]),
}

_LUMA = [0.299, 0.587, 0.114]  # ITU-R BT.601
_YCBCR = [[0.299, 0.587, 0.114], [-0.168736, -0.331264, 0.5], [0.5, -0.418688, -0.081312]]
_YCBCR_BIAS = [0.0, 0.5, 0.5]

# 1×1 presets: (C_in -> C_out × C_in matrix, bias or None)
_MATRICES: dict[str, Callable[[int], tuple[np.ndarray, list[float] | None]]] = {
    "greyscale": lambda c: (np.asarray([_LUMA]), None),
    "channel_swap": lambda c: (np.eye(c)[::-1], None),
    "ycbcr": lambda c: (np.asarray(_YCBCR), _YCBCR_BIAS),
    "channel_average": lambda c: (np.full((1, c), 1.0 / c), None),
    "identity_1x1": lambda c: (np.eye(c), None),
}
_OUT_CHANNELS = {"greyscale": lambda c: 1, "channel_swap": lambda c: c, "ycbcr": lambda c: 3,
                 "channel_average": lambda c: 1, "identity_1x1": lambda c: c}

PRESETS: dict[str, Preset] = {p.name: p for p in [
    Preset("greyscale", "1x1", "RGB → 1 channel of BT.601 luma: 0.299 R + 0.587 G + 0.114 B.", 3),
    Preset("channel_swap", "1x1", "Reverses the channel order (RGB → BGR): a permutation matrix."),
    Preset("ycbcr", "1x1", "RGB → YCbCr (JPEG's colour space): luma plus two colour differences, bias 0.5.", 3),
    Preset("channel_average", "1x1", "All channels → 1: each weight is 1/C_in."),
    Preset("identity_1x1", "1x1", "C_in → C_in unchanged: the identity matrix."),
    *[Preset(name, "kxk", desc) for name, (desc, _) in SPATIAL_KERNELS.items()],
]}


def preset_layout(name: str, c_in: int, mode: str = "depthwise") -> PresetLayout:
    preset = PRESETS.get(name)
    if preset is None:
        raise GeometryError(f"unknown preset '{name}'; known presets: {', '.join(sorted(PRESETS))}")
    if preset.needs_channels is not None and c_in != preset.needs_channels:
        raise GeometryError(f"preset '{name}' needs an input with {preset.needs_channels} channels, "
                            f"this input has {c_in}")
    if preset.kind == "1x1":
        return PresetLayout(_OUT_CHANNELS[name](c_in), (1, 1), 1, name == "ycbcr")
    return PresetLayout(c_in, (3, 3), c_in if mode == "depthwise" else 1, False)


def preset_weights(name: str, c_in: int, mode: str = "depthwise") -> tuple[np.ndarray, np.ndarray | None]:
    """Weights and bias of a preset for an input with ``c_in`` channels.

    k×k presets apply one kernel to every channel separately. "depthwise": groups = C_in, weight
    (C_in, 1, 3, 3). "per_channel": groups = 1, weight (C_in, C_in, 3, 3), zero off the diagonal: the
    same output, computed as a dense layer.
    """
    layout = preset_layout(name, c_in, mode)
    if PRESETS[name].kind == "1x1":
        matrix, bias = _MATRICES[name](c_in)
        b = None if bias is None else np.asarray(bias, dtype=np.float32)
        return np.asarray(matrix, dtype=np.float32)[:, :, None, None], b
    k = np.asarray(SPATIAL_KERNELS[name][1], dtype=np.float32)
    if layout.groups == c_in:
        return np.broadcast_to(k, (c_in, 1, *k.shape)).copy(), None
    w = np.zeros((c_in, c_in, *k.shape), dtype=np.float32)
    w[np.arange(c_in), np.arange(c_in)] = k
    return w, None


def model_layer_weights(model: str, layer: str, s) -> tuple[np.ndarray, np.ndarray | None]:
    """The weights and bias of a Conv layer of a model (issue 13), decoded once per model and process;
    uploaded models are found under the app's settings ``s`` (its data_dir)."""
    from app.models.layers import layer_weights  # the networks service; imported here, where it is needed
    return layer_weights(model, layer, s)
