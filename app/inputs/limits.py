"""Shape checks shared by every input source, run before any tensor of that shape is allocated."""
from __future__ import annotations

from app.errors import check_limit
from app.settings import Settings


def check_input_dims(shape: tuple[int, int, int], s: Settings) -> None:
    """C, H and W each within their limits (enough for a shape that is only counted, never allocated)."""
    c, h, w = shape
    check_limit("input channels", c, s.max_channels, "max_channels")
    check_limit("input height", h, s.max_height, "max_height")
    check_limit("input width", w, s.max_width, "max_width")


def check_input_shape(shape: tuple[int, int, int], s: Settings) -> None:
    """Dimensions and total size, for a tensor that is about to exist."""
    check_input_dims(shape, s)
    c, h, w = shape
    check_limit("input elements C·H·W", c * h * w, s.max_input_elements, "max_input_elements")
