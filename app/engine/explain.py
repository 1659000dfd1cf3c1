"""The formulas written out with a layer's own numbers, for "show your work" panels.

Each string ends in the value computed by the same functions the engine uses (output_size,
conv_cost), so the text on a page and the number in the API cannot disagree.
"""
from __future__ import annotations

from app.engine.cost import conv_cost
from app.engine.geometry import ConvGeometry, output_size


def output_size_formula(axis: str, size_in: int, kernel: int, stride: int, pad: tuple[int, int],
                        dilation: int) -> str:
    value = output_size(size_in, kernel, stride, pad[0], pad[1], dilation)
    return (f"{axis}_out = ⌊({size_in} + {pad[0]} + {pad[1]} − {dilation}·({kernel} − 1) − 1) / {stride}⌋ + 1"
            f" = {value}")


def params_formula(g: ConvGeometry, bias: bool) -> str:
    c = conv_cost(g, bias)
    core = f"{g.out_channels} · {g.in_per_group} · {g.kernel[0]} · {g.kernel[1]}"
    tail = f" + {g.out_channels}" if bias else ""
    return f"params = C_out · (C_in/groups) · kH · kW{' + C_out' if bias else ''} = {core}{tail} = {c.params:,}"


def macs_formula(g: ConvGeometry) -> str:
    c = conv_cost(g, False)
    return (f"MACs = C_out · H_out · W_out · (C_in/groups) · kH · kW = {g.out_channels} · {g.out_height} · "
            f"{g.out_width} · {g.in_per_group} · {g.kernel[0]} · {g.kernel[1]} = {c.macs:,}")


def torch_line(g: ConvGeometry, bias: bool) -> str:
    """The equivalent PyTorch layer (cross-correlation, as the engine without flip)."""
    symmetric = g.pad_h[0] == g.pad_h[1] and g.pad_w[0] == g.pad_w[1]
    padding = f"({g.pad_h[0]}, {g.pad_w[0]})" if symmetric else "'same'"
    return (f"torch.nn.Conv2d({g.in_channels}, {g.out_channels}, kernel_size={g.kernel}, stride={g.stride}, "
            f"padding={padding}, dilation={g.dilation}, groups={g.groups}, bias={bias})")


def connectivity(g: ConvGeometry) -> list[list[int]]:
    """For each output channel, the input channels it reads: its group's slice of C_in."""
    return [list(range((o // g.out_per_group) * g.in_per_group, (o // g.out_per_group + 1) * g.in_per_group))
            for o in range(g.out_channels)]


def explain(g: ConvGeometry, bias: bool) -> dict:
    return {
        "out_height": output_size_formula("H", g.in_height, g.kernel[0], g.stride[0], g.pad_h, g.dilation[0]),
        "out_width": output_size_formula("W", g.in_width, g.kernel[1], g.stride[1], g.pad_w, g.dilation[1]),
        "params": params_formula(g, bias),
        "macs": macs_formula(g),
        "flops": f"FLOPs = 2 · MACs = {conv_cost(g, bias).flops:,} (bias adds not included)",
        "torch": torch_line(g, bias),
    }
