"""The engine's one exception type, so callers can tell bad geometry from bugs."""


class GeometryError(ValueError):
    """A layer that cannot be applied to an input; the message says what is allowed."""
