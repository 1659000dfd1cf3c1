"""A cost-lab design as PyTorch source: a module that computes what the design describes.

Branches are not layers in sequence, so a concat prints as a module whose ``forward`` runs every branch
on the same input and stacks the outputs on the channel axis (an add sums them). Each leaf's line is the
engine's own ``torch`` string for that row (app/engine/explain.py), so nothing is re-derived here.
"""
from __future__ import annotations

import re
from typing import Iterator

from app.engine.design import Add, Block, Concat, DesignCost, DesignRow, Fc, Layer

INDENT = "    "

HEADER = "import torch\nfrom torch import nn\n"
BRANCHES = '''

class Branches(nn.Module):
    """Parallel branches that all read the same input (nn.Identity() passes it on as it is)."""

    def __init__(self, *branches):
        super().__init__()
        self.branches = nn.ModuleList(branches)
'''
CONCAT = '''

class Concat(Branches):
    """Stacks the branches' outputs along the channels (dim 1)."""

    def forward(self, x):
        return torch.cat([branch(x) for branch in self.branches], dim=1)
'''
ADD = '''

class Add(Branches):
    """Sums the branches' outputs (an nn.Identity() branch is the shortcut)."""

    def forward(self, x):
        return sum(branch(x) for branch in self.branches)
'''


def _comment(name: str) -> str:
    """A user's layer name as a one-line comment (no line breaks can escape it)."""
    clean = re.sub(r"[\x00-\x1f\x7f\u2028\u2029]", " ", name).strip()
    return f"  # {clean}" if clean else ""


def torch_source(name: str, layers: tuple[Layer, ...], cost: DesignCost) -> str:
    """Python source defining ``model``, an nn.Module taking (N, C, H, W) like the design's input."""
    rows = iter(cost.rows)
    body = _sequence(layers, rows, 1, final=True)
    used = _kinds(layers)
    return (HEADER + (BRANCHES if used & {Concat, Add} else "") + (CONCAT if Concat in used else "")
            + (ADD if Add in used else "")
            + f"\n\nmodel = nn.Sequential({_comment(name)}\n{body}\n)\n")


def _kinds(layers) -> set[type]:
    found: set[type] = set()
    for layer in layers:
        found.add(type(layer))
        if isinstance(layer, Block):
            found |= _kinds(layer.layers)
        elif isinstance(layer, (Concat, Add)):
            for b in layer.branches:
                found |= _kinds(b)
    return found


def _sequence(layers, rows: Iterator[DesignRow], depth: int, final: bool) -> str:
    lines = []
    for i, layer in enumerate(layers):
        lines.append(_module(layer, rows, depth, final and i == len(layers) - 1))
    return "\n".join(lines)


def _module(layer: Layer, rows: Iterator[DesignRow], depth: int, final: bool) -> str:
    pad = INDENT * depth
    if isinstance(layer, Block):
        return f"{pad}nn.Sequential({_comment(layer.name)}\n{_sequence(layer.layers, rows, depth + 1, final)}\n{pad}),"
    if isinstance(layer, (Concat, Add)):
        parts = []
        for branch in layer.branches:
            if not branch:
                parts.append(f"{pad}{INDENT}nn.Identity(),")
            else:
                parts.append(f"{pad}{INDENT}nn.Sequential(\n{_sequence(branch, rows, depth + 2, False)}\n{pad}{INDENT}),")
        kind = "Concat" if isinstance(layer, Concat) else "Add"
        return f"{pad}{kind}({_comment(layer.name)}\n" + "\n".join(parts) + f"\n{pad}),"
    row = next(rows)
    line = row.torch.split("  #")[0].replace("torch.nn.", "nn.")
    if isinstance(layer, Fc):  # a Linear reads the flattened (N, C·H·W); the design keeps (out, 1, 1)
        tail = "" if final else f"\n{pad}nn.Unflatten(1, ({row.out_shape[0]}, 1, 1)),"
        return f"{pad}nn.Flatten(),\n{pad}{line},{_comment(layer.name)}{tail}"
    return f"{pad}{line},{_comment(layer.name)}"
