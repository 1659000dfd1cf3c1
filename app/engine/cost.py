"""Parameters, MACs, FLOPs and bytes: the only place in convlens that multiplies shapes into costs.

Conventions (stated once, used everywhere):
- A MAC is one multiply-accumulate of a weight with an input value. Bias adds are *not* MACs; they are
  counted separately as ``bias_adds`` (one per output element when the layer has a bias).
- FLOPs = 2 · MACs. Bias adds and activations are not included in FLOPs.
- Bytes assume float32 (4 bytes per value) and count each tensor once.
"""
from __future__ import annotations

from dataclasses import dataclass

from app.engine.geometry import ConvGeometry, PoolGeometry, TransposedGeometry

BYTES_PER_VALUE = 4  # float32


def flops_from_macs(macs: int) -> int:
    return 2 * macs


@dataclass(frozen=True)
class ConvCost:
    params: int
    params_without_bias: int
    macs: int
    flops: int
    bias_adds: int
    bytes_input: int
    bytes_weights: int
    bytes_output: int

    @property
    def arithmetic_intensity(self) -> float:
        """MACs per byte moved, reading input and weights and writing output once."""
        return self.macs / (self.bytes_input + self.bytes_weights + self.bytes_output)


def window_values(g: ConvGeometry) -> int:
    """Input values one output value reads, C_in/groups · kH · kW: its MACs, and the input count of the
    fully connected layer it equals (a 1×1 reads one pixel's C_in values)."""
    return g.in_per_group * g.kernel[0] * g.kernel[1]


def conv_macs(g: ConvGeometry) -> int:
    """One MAC per weight tap per output value."""
    return g.out_channels * g.out_height * g.out_width * window_values(g)


def conv_cost(g: ConvGeometry, bias: bool) -> ConvCost:
    weights = g.out_channels * g.in_per_group * g.kernel[0] * g.kernel[1]
    outputs = g.out_channels * g.out_height * g.out_width
    macs = conv_macs(g)
    params = weights + (g.out_channels if bias else 0)
    return ConvCost(
        params=params,
        params_without_bias=weights,
        macs=macs,
        flops=flops_from_macs(macs),
        bias_adds=outputs if bias else 0,
        bytes_input=g.in_channels * g.in_height * g.in_width * BYTES_PER_VALUE,
        bytes_weights=params * BYTES_PER_VALUE,
        bytes_output=outputs * BYTES_PER_VALUE,
    )


@dataclass(frozen=True)
class PoolCost:
    """Pooling has no parameters; ``comparisons_or_adds`` is one per window element per output."""
    params: int
    comparisons_or_adds: int
    bytes_input: int
    bytes_output: int


def pool_cost(g: PoolGeometry) -> PoolCost:
    outputs = g.channels * g.out_height * g.out_width
    return PoolCost(
        params=0,
        comparisons_or_adds=outputs * g.kernel[0] * g.kernel[1],
        bytes_input=g.channels * g.in_height * g.in_width * BYTES_PER_VALUE,
        bytes_output=outputs * BYTES_PER_VALUE,
    )


def transposed_macs(g: TransposedGeometry) -> int:
    """One MAC per weight tap per *input* value: each input pixel stamps its C_out/groups kernels once.
    Taps that land in the cropped border (padding) are counted too, as torch's FlopCounterMode does."""
    return g.in_channels * g.in_height * g.in_width * g.out_per_group * g.kernel[0] * g.kernel[1]


def zero_inserted_macs(g: TransposedGeometry) -> int:
    """MACs of the gather reading run naively: a direct convolution over the zero-inserted, padded input
    multiplies every output value by all C_in/groups·kH·kW taps, inserted zeros included."""
    return g.out_channels * g.out_height * g.out_width * g.in_per_group * g.kernel[0] * g.kernel[1]


def transposed_cost(g: TransposedGeometry, bias: bool) -> ConvCost:
    weights = g.in_channels * g.out_per_group * g.kernel[0] * g.kernel[1]
    outputs = g.out_channels * g.out_height * g.out_width
    macs = transposed_macs(g)
    params = weights + (g.out_channels if bias else 0)
    return ConvCost(params=params, params_without_bias=weights, macs=macs, flops=flops_from_macs(macs),
                    bias_adds=outputs if bias else 0,
                    bytes_input=g.in_channels * g.in_height * g.in_width * BYTES_PER_VALUE,
                    bytes_weights=params * BYTES_PER_VALUE, bytes_output=outputs * BYTES_PER_VALUE)


def matmul_macs(batch: int, m: int, k: int, n: int) -> int:
    """A (batch of) (m×k)·(k×n) products: one MAC per term of every output value. A fully connected
    layer is batch=1, m=1 (one sample), k=features in, n=features out."""
    return batch * m * k * n


@dataclass(frozen=True)
class LayerCost:
    """One graph node's cost. ``params`` are the node's learned constants (weights and biases);
    ``bytes_read`` is its inputs and constants, ``bytes_written`` its outputs, each read or written once."""
    params: int
    macs: int
    bytes_read: int
    bytes_written: int

    def __post_init__(self):
        if min(self.params, self.macs, self.bytes_read, self.bytes_written) < 0:
            raise ValueError(f"negative cost {self}")

    @property
    def bytes_moved(self) -> int:
        return self.bytes_read + self.bytes_written

    @property
    def macs_per_byte(self) -> float:
        return self.macs / self.bytes_moved if self.bytes_moved else 0.0


def tensor_bytes(elements: int) -> int:
    return elements * BYTES_PER_VALUE
