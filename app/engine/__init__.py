"""Pure NumPy convolution math: no web framework, no I/O.

Every formula the project shows (output size, parameters, MACs, bytes) is defined once here and
imported by the API, the pages' endpoints and the tests.
"""
from app.engine.errors import GeometryError
from app.engine.geometry import ConvGeometry, PoolGeometry, conv_geometry, output_size, pool_geometry, resolve_padding
from app.engine.cost import ConvCost, conv_cost, PoolCost, pool_cost
from app.engine.conv import conv2d, conv1x1
from app.engine.pool import max_pool2d, avg_pool2d, relu
from app.engine.trace import Trace, trace_position

__all__ = [
    "GeometryError", "ConvGeometry", "PoolGeometry", "pool_geometry", "conv_geometry", "output_size", "resolve_padding",
    "ConvCost", "conv_cost", "PoolCost", "pool_cost", "conv2d", "conv1x1",
    "max_pool2d", "avg_pool2d", "relu", "Trace", "trace_position",
]
