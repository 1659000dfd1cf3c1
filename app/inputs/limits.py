"""Shape checks shared by every input source, run before any tensor of that shape is allocated."""
from __future__ import annotations

from app.errors import check_limit
from app.settings import Settings


def check_input_shape(shape: tuple[int, int, int], s: Settings) -> None:
    c, h, w = shape
    check_limit("input channels", c, s.max_channels, "max_channels")
    check_limit("input height", h, s.max_height, "max_height")
    check_limit("input width", w, s.max_width, "max_width")
    check_limit("input elements C·H·W", c * h * w, s.max_input_elements, "max_input_elements")
