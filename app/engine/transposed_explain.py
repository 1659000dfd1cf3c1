"""A transposed convolution's formulas written out with its own numbers, and the convolution it undoes.

Every value comes from geometry.py and cost.py, so the text a page shows and the number the API
returns cannot disagree. "The guide" is Dumoulin & Visin, *A guide to convolution arithmetic for deep
learning* (arXiv:1603.07285), whose relationships 13 and 14 these extend with dilation.
"""
from __future__ import annotations

from app.engine.cost import transposed_cost, zero_inserted_macs
from app.engine.geometry import TransposedGeometry, conv_inputs_for_output, output_size, transposed_output_size

AXES = (("H", 0), ("W", 1))


def _axis(g: TransposedGeometry, a: int) -> tuple[int, int, int, int, int, int]:
    """i, k, s, p, output_padding, d along one axis."""
    return ((g.in_height, g.in_width)[a], g.kernel[a], g.stride[a], g.padding[a], g.output_padding[a],
            g.dilation[a])


def _signed(v: int) -> str:
    return f"+ {v}" if v >= 0 else f"− {-v}"


def size_formula(g: TransposedGeometry, name: str, a: int) -> str:
    i, k, s, p, op, d = _axis(g, a)
    return (f"{name}_out = (i − 1)·s − 2p + d·(k − 1) + output_padding + 1 = ({i} − 1)·{s} − 2·{p} + "
            f"{d}·({k} − 1) + {op} + 1 = {transposed_output_size(i, k, s, p, op, d)}")


def gather_steps(g: TransposedGeometry, name: str, a: int) -> list[str]:
    """The equivalent direct convolution along one axis, step by step (the guide's drawing)."""
    i, k, s, p, op, d = _axis(g, a)
    inserted = g.zero_inserted_shape[a]
    lo, hi = (g.gather_padding[0], g.gather_padding[1])[a]
    padded = inserted + lo + hi
    crop = " (negative: that many rows are cropped)" if lo < 0 else ""
    return [
        f"{name}: insert s − 1 = {s - 1} zero{'s' if s != 2 else ''} between neighbouring pixels: "
        f"(i − 1)·s + 1 = ({i} − 1)·{s} + 1 = {inserted}",
        f"{name}: pad d·(k − 1) − p = {d}·({k} − 1) − {p} = {lo} before{crop} and {lo} + output_padding = "
        f"{hi} after: {inserted} {_signed(lo)} {_signed(hi)} = {padded}",
        f"{name}: slide the kernel rotated 180° with stride 1 and dilation {d}: "
        f"{padded} − {d}·({k} − 1) = {output_size(padded, k, 1, 0, 0, d)} outputs",
    ]


def restores(g: TransposedGeometry, name: str, a: int) -> dict:
    """The convolution with the same k, s, p, d maps which input lengths onto this layer's input length?
    This layer restores exactly one of them; output_padding chooses which."""
    i, k, s, p, op, d = _axis(g, a)
    lengths = list(conv_inputs_for_output(i, k, s, p, d))
    out = transposed_output_size(i, k, s, p, op, d)
    conv = f"Conv2d(k={k}, s={s}, p={p}, d={d})"
    if len(lengths) > 1:
        text = (f"{name}: {conv} maps every input length in {{{', '.join(map(str, lengths))}}} to {i}: the floor in "
                f"⌊(i + 2p − d·(k − 1) − 1)/s⌋ + 1 hides the difference, so the transposed convolution cannot "
                f"know which one it came from. output_padding = {op} picks {out}.")
    elif lengths:
        text = f"{name}: {conv} maps only the length {lengths[0]} to {i}; the transposed convolution restores it."
    else:
        text = f"{name}: no input length maps to {i} under {conv}."
    return {"axis": name, "conv_inputs": lengths,
            "output_padding_for_each": [n - lengths[0] for n in lengths] if lengths else [],
            "restored": out, "restores_conv_input": out in lengths, "text": text}


def relationships(g: TransposedGeometry, name: str, a: int) -> list[str]:
    """The guide's relationship 14 (its 13 has a = 0), with dilation as PyTorch defines it."""
    i, k, s, p, op, d = _axis(g, a)
    o = transposed_output_size(i, k, s, p, op, d)
    a_ = (o + 2 * p - d * (k - 1) - 1) % s  # the remainder the convolution's floor drops
    return [
        f"{name}: the convolution k = {k}, s = {s}, p = {p}, d = {d} on an input of {o} gives "
        f"⌊({o} + 2·{p} − {d}·({k} − 1) − 1)/{s}⌋ + 1 = {output_size(o, k, s, p, p, d)}: this layer's input",
        f"{name}: its transposed convolution is a direct convolution with k′ = {k}, s′ = 1, "
        f"p′ = d·(k − 1) − p = {(g.gather_padding[0], g.gather_padding[1])[a][0]}, on the stretched input ĩ′ = i′ + (s − 1)(i′ − 1) = "
        f"{i} + {s - 1}·{i - 1} = {g.zero_inserted_shape[a]}",
        f"{name}: a = (o + 2p − d·(k − 1) − 1) mod s = ({o} + 2·{p} − {d}·({k} − 1) − 1) mod {s} = {a_}: "
        f"the output_padding that recovers {o}",
        f"{name}: o′ = s·(i′ − 1) + a + d·(k − 1) + 1 − 2p = {s}·({i} − 1) + {a_} + {d}·({k} − 1) + 1 − 2·{p} = "
        f"{transposed_output_size(i, k, s, p, a_, d)}",
    ]


def explain_transposed(g: TransposedGeometry, bias: bool) -> dict:
    c = transposed_cost(g, bias)
    core = f"{g.in_channels} · {g.out_per_group} · {g.kernel[0]} · {g.kernel[1]}"
    return {
        "out_height": size_formula(g, "H", 0), "out_width": size_formula(g, "W", 1),
        "params": (f"params = C_in · (C_out/groups) · kH · kW{' + C_out' if bias else ''} = {core}"
                   f"{f' + {g.out_channels}' if bias else ''} = {c.params:,}"),
        "macs": (f"MACs = C_in · H_in · W_in · (C_out/groups) · kH · kW = {g.in_channels} · {g.in_height} · "
                 f"{g.in_width} · {g.out_per_group} · {g.kernel[0]} · {g.kernel[1]} = {c.macs:,} (one per tap "
                 f"of every stamp, as torch's FlopCounterMode counts)"),
        "zero_inserted_macs": (f"as a direct convolution over the zero-inserted input: C_out · H_out · W_out · "
                               f"(C_in/groups) · kH · kW = {zero_inserted_macs(g):,} MACs, most of them times an "
                               f"inserted zero"),
        "flops": f"FLOPs = 2 · MACs = {c.flops:,} (bias adds not included)",
        "torch": (f"torch.nn.ConvTranspose2d({g.in_channels}, {g.out_channels}, kernel_size={g.kernel}, "
                  f"stride={g.stride}, padding={g.padding}, output_padding={g.output_padding}, groups={g.groups}, "
                  f"bias={bias}, dilation={g.dilation})"),
        "gather": [step for name, a in AXES for step in gather_steps(g, name, a)],
        "relationships": [line for name, a in AXES for line in relationships(g, name, a)],
        "restores": [restores(g, name, a) for name, a in AXES],
    }
