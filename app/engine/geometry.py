"""Output size and padding: the single home of ⌊(i + p_lo + p_hi − d·(k−1) − 1)/s⌋ + 1.

Padding is kept per side because PyTorch's ``padding="same"`` with an even effective kernel pads one
more on the bottom/right than on the top/left; a symmetric ``2p`` could not express that.
"""
from __future__ import annotations

import functools
from dataclasses import dataclass
from typing import Union

from app.engine.errors import GeometryError

Pair = tuple[int, int]
PaddingArg = Union[int, Pair, str, tuple[Pair, Pair]]  # the last: ((top, bottom), (left, right))


def pair(value: int | Pair | list[int], name: str) -> Pair:
    """Accept 3 or (3, 5) the way torch does."""
    if isinstance(value, (list, tuple)):
        if len(value) != 2:
            raise GeometryError(f"{name} must be an int or a pair of ints, got {list(value)}")
        return int(value[0]), int(value[1])
    return int(value), int(value)


def output_size(size_in: int, kernel: int, stride: int = 1, pad_lo: int = 0, pad_hi: int = 0,
                dilation: int = 1) -> int:
    """Output length along one axis; ≤ 0 means the kernel does not fit."""
    span = dilation * (kernel - 1) + 1  # the kernel's extent once dilated
    return (size_in + pad_lo + pad_hi - span) // stride + 1


def resolve_padding(padding: PaddingArg, kernel: Pair, stride: Pair, dilation: Pair
                    ) -> tuple[Pair, Pair]:
    """Padding as ((top, bottom), (left, right)), with torch's rules for "same" and "valid"."""
    if isinstance(padding, str):
        if padding == "valid":
            return (0, 0), (0, 0)
        if padding == "same":
            if stride != (1, 1):
                raise GeometryError(f'padding="same" needs stride 1 (as in PyTorch), got stride={list(stride)}')
            sides = []
            for k, d in zip(kernel, dilation):
                total = d * (k - 1)
                sides.append((total // 2, total - total // 2))
            return sides[0], sides[1]
        raise GeometryError(f'padding must be an int, a pair, "same" or "valid", got "{padding}"')
    if isinstance(padding, (list, tuple)) and len(padding) == 2 and all(isinstance(p, (list, tuple)) for p in padding):
        sides = (pair(padding[0], "padding"), pair(padding[1], "padding"))  # ((top, bottom), (left, right))
    else:
        ph, pw = pair(padding, "padding")
        sides = ((ph, ph), (pw, pw))
    if min(sides[0] + sides[1]) < 0:
        raise GeometryError(f"padding must be ≥ 0, got {[list(sides[0]), list(sides[1])]}")
    return sides


class _GroupedShapes:
    """What a grouped layer's channel counts and output size give, for both geometries below."""

    @property
    def in_per_group(self) -> int:
        return self.in_channels // self.groups

    @property
    def out_per_group(self) -> int:
        return self.out_channels // self.groups

    @property
    def output_shape(self) -> tuple[int, int, int]:
        return (self.out_channels, self.out_height, self.out_width)


@dataclass(frozen=True)
class ConvGeometry(_GroupedShapes):
    """Everything about a conv layer's shapes, resolved and checked, before any array exists."""
    in_channels: int
    out_channels: int
    in_height: int
    in_width: int
    kernel: Pair
    stride: Pair
    dilation: Pair
    pad_h: Pair  # (top, bottom)
    pad_w: Pair  # (left, right)
    groups: int
    out_height: int
    out_width: int

    @property
    def weight_shape(self) -> tuple[int, int, int, int]:
        return (self.out_channels, self.in_per_group, *self.kernel)

    @property
    def is_pointwise(self) -> bool:
        return self.kernel == (1, 1)

    @property
    def padded_elements(self) -> int:
        """C·(H + pads)·(W + pads): the padded input every lowering but the 1×1 one builds. With a large
        stride, huge padding still gives a small output, so this is checked on its own before running."""
        return self.in_channels * (self.in_height + sum(self.pad_h)) * (self.in_width + sum(self.pad_w))


def allowed_groups(in_channels: int, out_channels: int) -> list[int]:
    """Every groups value a layer in_channels → out_channels accepts: the common divisors (the rule
    _conv_geometry enforces), so a page can offer only these."""
    return [g for g in range(1, min(in_channels, out_channels) + 1) if in_channels % g == 0 and out_channels % g == 0]


def _positive(name: str, value: Pair) -> None:
    if min(value) < 1:
        raise GeometryError(f"{name} must be ≥ 1, got {list(value)}")


def conv_geometry(in_shape: tuple[int, int, int], out_channels: int, kernel_size: int | Pair,
                  stride: int | Pair = 1, padding: PaddingArg = 0, dilation: int | Pair = 1,
                  groups: int = 1) -> ConvGeometry:
    """Validate a layer against an input shape (C, H, W); raise GeometryError saying what is allowed.

    Remembered per arguments: it is ~14 µs of Python, a tenth of a small layer's whole run."""
    try:
        return _remembered_geometry(tuple(in_shape), out_channels, kernel_size, stride, padding, dilation, groups)
    except TypeError:  # an unhashable argument, such as a list: work it out without the cache
        return _conv_geometry(in_shape, out_channels, kernel_size, stride, padding, dilation, groups)


def _conv_geometry(in_shape, out_channels, kernel_size, stride, padding, dilation, groups) -> ConvGeometry:
    c_in, h, w = (int(v) for v in in_shape)
    kernel, stride_, dilation_ = pair(kernel_size, "kernel_size"), pair(stride, "stride"), pair(dilation, "dilation")
    for name, value in (("kernel_size", kernel), ("stride", stride_), ("dilation", dilation_)):
        _positive(name, value)
    if min(c_in, h, w) < 1:
        raise GeometryError(f"input shape must be positive (C, H, W), got {[c_in, h, w]}")
    if out_channels < 1:
        raise GeometryError(f"out_channels must be ≥ 1, got {out_channels}")
    if groups < 1 or c_in % groups:
        raise GeometryError(f"groups={groups} must divide in_channels={c_in}")
    if out_channels % groups:
        raise GeometryError(f"groups={groups} must divide out_channels={out_channels}")
    pad_h, pad_w = resolve_padding(padding, kernel, stride_, dilation_)
    out_h = output_size(h, kernel[0], stride_[0], *pad_h, dilation_[0])
    out_w = output_size(w, kernel[1], stride_[1], *pad_w, dilation_[1])
    if out_h < 1 or out_w < 1:
        span = [d * (k - 1) + 1 for k, d in zip(kernel, dilation_)]
        raise GeometryError(
            f"kernel {list(kernel)} with dilation {list(dilation_)} spans {span}, larger than the padded "
            f"input {[h + sum(pad_h), w + sum(pad_w)]}; use a smaller kernel or dilation, or more padding")
    return ConvGeometry(c_in, out_channels, h, w, kernel, stride_, dilation_, pad_h, pad_w, groups, out_h, out_w)


_remembered_geometry = functools.lru_cache(maxsize=1024)(_conv_geometry)


@dataclass(frozen=True)
class PoolGeometry:
    channels: int
    in_height: int
    in_width: int
    kernel: Pair
    stride: Pair
    padding: Pair  # (top, left): the symmetric padding of pool_geometry; pad_h and pad_w hold both sides
    out_height: int
    out_width: int
    pad_h: Pair = (0, 0)  # (top, bottom)
    pad_w: Pair = (0, 0)  # (left, right)
    ceil_mode: bool = False

    @property
    def output_shape(self) -> tuple[int, int, int]:
        return (self.channels, self.out_height, self.out_width)


def pool_geometry(in_shape: tuple[int, int, int], kernel_size: int | Pair, stride: int | Pair | None = None,
                  padding: int | Pair = 0) -> PoolGeometry:
    """Pooling shapes with PyTorch's rules: stride defaults to the kernel, padding ≤ kernel/2, floor mode."""
    c, h, w = (int(v) for v in in_shape)
    kernel = pair(kernel_size, "kernel_size")
    stride_ = kernel if stride is None else pair(stride, "stride")
    pad = pair(padding, "padding")
    _positive("kernel_size", kernel)
    _positive("stride", stride_)
    if min(pad) < 0 or pad[0] > kernel[0] // 2 or pad[1] > kernel[1] // 2:
        raise GeometryError(f"pool padding must be between 0 and half the kernel {list(kernel)}, got {list(pad)}")
    out_h = output_size(h, kernel[0], stride_[0], pad[0], pad[0])
    out_w = output_size(w, kernel[1], stride_[1], pad[1], pad[1])
    if out_h < 1 or out_w < 1:
        raise GeometryError(f"pool kernel {list(kernel)} is larger than the padded input "
                            f"{[h + 2 * pad[0], w + 2 * pad[1]]}")
    return PoolGeometry(c, h, w, kernel, stride_, pad, out_h, out_w, (pad[0], pad[0]), (pad[1], pad[1]))


def pooled_size(size_in: int, kernel: int, stride: int, pad_lo: int, pad_hi: int, ceil_mode: bool) -> int:
    """Pooled length along one axis. Floor mode is output_size; ceil mode rounds up but, as PyTorch and
    ONNX do, drops a last window that would start in the bottom/right padding."""
    if not ceil_mode:
        return output_size(size_in, kernel, stride, pad_lo, pad_hi)
    out = -(-(size_in + pad_lo + pad_hi - kernel) // stride) + 1
    if (out - 1) * stride >= size_in + pad_lo:
        out -= 1
    return out


def pool_window_geometry(in_shape: tuple[int, int, int], kernel_size: int | Pair, stride: int | Pair,
                         pads: tuple[Pair, Pair], ceil_mode: bool = False) -> PoolGeometry:
    """Pooling as ONNX states it: per-side padding ((top, bottom), (left, right)) and ceil_mode, as
    GoogLeNet and SqueezeNet need. Each pad must be smaller than the kernel, so every window holds at
    least one real value."""
    c, h, w = (int(v) for v in in_shape)
    kernel, stride_ = pair(kernel_size, "kernel_size"), pair(stride, "stride")
    _positive("kernel_size", kernel)
    _positive("stride", stride_)
    (t, b), (l, r) = pads
    if min(t, b, l, r) < 0 or max(t, b) >= kernel[0] or max(l, r) >= kernel[1]:
        raise GeometryError(f"pool pads must be ≥ 0 and smaller than the kernel {list(kernel)}, "
                            f"got [[{t}, {b}], [{l}, {r}]]")
    out_h = pooled_size(h, kernel[0], stride_[0], t, b, ceil_mode)
    out_w = pooled_size(w, kernel[1], stride_[1], l, r, ceil_mode)
    if out_h < 1 or out_w < 1:
        raise GeometryError(f"pool kernel {list(kernel)} is larger than the padded input {[h + t + b, w + l + r]}")
    return PoolGeometry(c, h, w, kernel, stride_, (t, l), out_h, out_w, (t, b), (l, r), bool(ceil_mode))


# --- transposed convolution (issue 15) ---------------------------------------------------------------

def transposed_output_size(size_in: int, kernel: int, stride: int = 1, padding: int = 0, output_padding: int = 0,
                           dilation: int = 1) -> int:
    """o = (i − 1)·s − 2p + d·(k − 1) + output_padding + 1, as torch.nn.functional.conv_transpose2d."""
    return (size_in - 1) * stride - 2 * padding + dilation * (kernel - 1) + output_padding + 1


def conv_inputs_for_output(size_out: int, kernel: int, stride: int = 1, padding: int = 0,
                           dilation: int = 1) -> range:
    """Every input length a convolution maps to ``size_out``: the floor in output_size hides up to s − 1
    pixels, so these s lengths (when ≥ 1) are what a transposed convolution cannot tell apart; its
    output_padding picks one of them."""
    smallest = (size_out - 1) * stride - 2 * padding + dilation * (kernel - 1) + 1  # output_padding = 0
    return range(max(1, smallest), smallest + stride)


@dataclass(frozen=True)
class TransposedGeometry(_GroupedShapes):
    """A transposed convolution's shapes, resolved and checked. Weight shape is torch's
    (C_in, C_out/groups, kH, kW): each input channel owns the kernels it stamps onto its group's outputs."""
    in_channels: int
    out_channels: int
    in_height: int
    in_width: int
    kernel: Pair
    stride: Pair
    padding: Pair
    output_padding: Pair
    dilation: Pair
    groups: int
    out_height: int
    out_width: int

    @property
    def weight_shape(self) -> tuple[int, int, int, int]:
        return (self.in_channels, self.out_per_group, *self.kernel)

    @property
    def gather_padding(self) -> tuple[Pair, Pair]:
        """The equivalent direct convolution's padding per side, ((top, bottom), (left, right)):
        d·(k − 1) − p before, plus output_padding after. Negative means that many rows are cropped."""
        sides = []
        for k, d, p, op in zip(self.kernel, self.dilation, self.padding, self.output_padding):
            sides.append((d * (k - 1) - p, d * (k - 1) - p + op))
        return sides[0], sides[1]

    @property
    def stamp_span(self) -> Pair:
        """(H, W) one input pixel's stamp covers on the output: d·(k − 1) + 1."""
        return (self.dilation[0] * (self.kernel[0] - 1) + 1, self.dilation[1] * (self.kernel[1] - 1) + 1)

    @property
    def zero_inserted_shape(self) -> Pair:
        """(H, W) of the input once s − 1 zeros sit between neighbouring pixels: (i − 1)·s + 1."""
        return ((self.in_height - 1) * self.stride[0] + 1, (self.in_width - 1) * self.stride[1] + 1)


def transposed_geometry(in_shape: tuple[int, int, int], out_channels: int, kernel_size: int | Pair,
                        stride: int | Pair = 1, padding: int | Pair = 0, output_padding: int | Pair = 0,
                        dilation: int | Pair = 1, groups: int = 1) -> TransposedGeometry:
    """Validate a transposed convolution with torch's rules; raise GeometryError saying what is allowed."""
    c_in, h, w = (int(v) for v in in_shape)
    kernel, stride_, dilation_ = pair(kernel_size, "kernel_size"), pair(stride, "stride"), pair(dilation, "dilation")
    pad, out_pad = pair(padding, "padding"), pair(output_padding, "output_padding")
    for name, value in (("kernel_size", kernel), ("stride", stride_), ("dilation", dilation_)):
        _positive(name, value)
    if min(c_in, h, w) < 1:
        raise GeometryError(f"input shape must be positive (C, H, W), got {[c_in, h, w]}")
    if out_channels < 1:
        raise GeometryError(f"out_channels must be ≥ 1, got {out_channels}")
    if groups < 1 or c_in % groups:
        raise GeometryError(f"groups={groups} must divide in_channels={c_in}")
    if out_channels % groups:
        raise GeometryError(f"groups={groups} must divide out_channels={out_channels}")
    if min(pad) < 0 or min(out_pad) < 0:
        raise GeometryError(f"padding and output_padding must be ≥ 0, got {list(pad)} and {list(out_pad)}")
    for axis, op, s, d in zip(("height", "width"), out_pad, stride_, dilation_):
        if op >= max(s, d):  # torch: "output padding must be smaller than either stride or dilation"
            raise GeometryError(f"output_padding {op} along {axis} must be smaller than the stride ({s}) or the "
                                f"dilation ({d}): allowed 0..{max(s, d) - 1}")
    out_h = transposed_output_size(h, kernel[0], stride_[0], pad[0], out_pad[0], dilation_[0])
    out_w = transposed_output_size(w, kernel[1], stride_[1], pad[1], out_pad[1], dilation_[1])
    if out_h < 1 or out_w < 1:
        raise GeometryError(f"padding {list(pad)} crops the whole output: (i − 1)·s − 2p + d·(k − 1) + "
                            f"output_padding + 1 gives {[out_h, out_w]}; use less padding")
    return TransposedGeometry(c_in, out_channels, h, w, kernel, stride_, pad, out_pad, dilation_, groups,
                              out_h, out_w)
