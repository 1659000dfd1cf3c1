"""Read-only strided views: the windows of a convolution or pooling without copying the input."""
from __future__ import annotations

import numpy as np


def strided_view(base: np.ndarray, shape: tuple[int, ...], strides: tuple[int, ...]) -> np.ndarray:
    """A read-only view of the C-contiguous ``base`` with the given shape and byte strides.

    Built with the ndarray constructor rather than ``as_strided``: NumPy then checks that every element
    lies inside ``base`` (as_strided does not), and it costs ~1.4 µs instead of ~10 µs, which is a
    tenth of a small layer's whole run."""
    view = np.ndarray(shape, base.dtype, base, 0, strides)
    view.flags.writeable = False
    return view


def preview_step(height: int, width: int, size: int) -> int:
    """Every how many rows and columns a height×width map is sampled so its longer side is at most
    ``size`` values: ⌈max(height, width) / size⌉ (1 when it fits)."""
    return max(1, -(-max(height, width) // size))
