"""The formulas written out with a layer's own numbers, for "show your work" panels.

Each string ends in the value computed by the same functions the engine uses (output_size,
conv_cost), so the text on a page and the number in the API cannot disagree.
"""
from __future__ import annotations

from app.engine.cost import conv_cost, window_values
from app.engine.geometry import ConvGeometry, conv_geometry, output_size


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


def pointwise_explain(g: ConvGeometry, bias: bool) -> dict | None:
    """The general formulas at kH = kW = 1, groups = 1 (None for any other layer), the layer as torch and
    NumPy write it, and how many values one output reads here and under a 3×3 with the same channels."""
    if not (g.is_pointwise and g.groups == 1):
        return None
    c = conv_cost(g, bias)
    ci, co, h, w = g.in_channels, g.out_channels, g.out_height, g.out_width
    three = conv_geometry((ci, g.in_height, g.in_width), co, 3, padding=1)
    plus_b, b_term = (" + C_out", f" + {co}") if bias else ("", "")
    return {
        "params": f"params = C_in · C_out{plus_b} = {ci} · {co}{b_term} = {c.params:,}",
        "macs": f"MACs = H · W · C_in · C_out = {h} · {w} · {ci} · {co} = {c.macs:,}",
        "torch": f"torch.nn.Conv2d({ci}, {co}, kernel_size=1, bias={bias})",
        "numpy": f'y = np.einsum("oc,chw->ohw", W, x){" + b[:, None, None]" if bias else ""}'
                 f"   # W: ({co}, {ci}), x: ({ci}, {h}, {w})",
        "reads": window_values(g),
        "reads_3x3": window_values(three),
    }


def fc_explain(channels: int, block: int, outputs: int, size: int) -> dict:
    """An FC layer over a k×k×C block is a k×k conv with O filters on that block: its input count is the
    values one conv output reads, its parameters the conv's; slid over size×size it gives a score map."""
    g = conv_geometry((channels, block, block), outputs, block)
    inputs, params = window_values(g), conv_cost(g, True).params
    return {
        "inputs": inputs,
        "params": params,
        "conv_weight_shape": list(g.weight_shape),
        "score_map_shape": list(conv_geometry((channels, size, size), outputs, block).output_shape),
        "inputs_formula": f"C · k · k = {channels} · {block} · {block} = {inputs}",
        "params_formula": f"params = O · (C·k·k) + O = {outputs} · {inputs} + {outputs} = {params:,}",
    }


def explain(g: ConvGeometry, bias: bool) -> dict:
    return {
        "pointwise": pointwise_explain(g, bias),
        "out_height": output_size_formula("H", g.in_height, g.kernel[0], g.stride[0], g.pad_h, g.dilation[0]),
        "out_width": output_size_formula("W", g.in_width, g.kernel[1], g.stride[1], g.pad_w, g.dilation[1]),
        "params": params_formula(g, bias),
        "macs": macs_formula(g),
        "flops": f"FLOPs = 2 · MACs = {conv_cost(g, bias).flops:,} (bias adds not included)",
        "torch": torch_line(g, bias),
    }
