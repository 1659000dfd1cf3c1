"""A cost-lab design as PyTorch source: a module that computes what the design describes.

The source is printed from the design's lowering (app.engine.lower_design), not from the design tree:
the lowering's plan gives the nesting (a Block is an nn.Sequential; a Concat or an Add a module whose
``forward`` runs every branch on the same input, then stacks the outputs on the channel axis or sums
them), and each leaf is printed from its own graph nodes. A Conv, pool, Relu or Gemm node is the row's
``torch`` string (app/engine/explain.py), so nothing is re-derived here; a fully connected leaf's
Flatten and Reshape nodes are nn.Flatten and nn.Unflatten.
"""
from __future__ import annotations

import re
from typing import Callable, Optional

from app.engine.graph import Graph
from app.engine.lower_design import GroupPlan, Lowered, Plan, RowPlan
from app.engine.ops import Node

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


def torch_source(name: str, lowered: Lowered) -> str:
    """Python source defining ``model``, an nn.Module taking (N, C, H, W) like the design's input."""
    printer = _Printer(lowered.graph)
    body = printer.sequence(lowered.plan, 1, final=True)
    used = {g.kind for g in lowered.groups}
    return (HEADER + (BRANCHES if used & {"concat", "add"} else "") + (CONCAT if "concat" in used else "")
            + (ADD if "add" in used else "")
            + f"\n\nmodel = nn.Sequential({_comment(name)}\n{body}\n)\n")


def _given(plan: Plan) -> str:
    """The name the user gave the layer ("" when unnamed: the rows' made-up names are not printed)."""
    return plan.layer.name if plan.layer is not None else ""


def _flatten(row: RowPlan, node: Node, graph: Graph, final: bool) -> Optional[str]:
    """A Flatten to (1, F) before a Gemm."""
    return "nn.Flatten(),"


def _unflatten(row: RowPlan, node: Node, graph: Graph, final: bool) -> Optional[str]:
    """A Reshape back to (1, out, 1, 1) after a Gemm; torch's nn.Linear leaves (N, out) at the very end."""
    return None if final else f"nn.Unflatten(1, {graph.shapes[node.outputs[0]][1:]}),"


def _layer(row: RowPlan, node: Node, graph: Graph, final: bool) -> Optional[str]:
    """The leaf's own node as its row's torch line (its comment dropped), with the name the user gave."""
    line = row.torch.split("  #")[0].replace("torch.nn.", "nn.")
    return f"{line},{_comment(_given(row))}"


# How a graph node prints; every other op (Conv, pools, Relu, Gemm) is its row's own torch line.
_NODE_LINES: dict[str, Callable[[RowPlan, Node, Graph, bool], Optional[str]]] = {
    "Flatten": _flatten, "Reshape": _unflatten}


class _Printer:
    def __init__(self, graph: Graph):
        self.graph = graph
        self.nodes = {n.name: n for n in graph.nodes}

    def sequence(self, plans: tuple[Plan, ...], depth: int, final: bool) -> str:
        return "\n".join(self.module(p, depth, final and i == len(plans) - 1) for i, p in enumerate(plans))

    def module(self, plan: Plan, depth: int, final: bool) -> str:
        """A leaf's lines, or a group's module (``final``: nothing follows it, so a fully connected leaf
        keeps torch's (N, out); a Block passes that on to its last layer, a branch never has it)."""
        if isinstance(plan, GroupPlan):
            return self.group(plan, INDENT * depth, depth, final)
        lines = [_NODE_LINES.get(self.nodes[n].op, _layer)(plan, self.nodes[n], self.graph, final) for n in plan.nodes]
        return "\n".join(INDENT * depth + line for line in lines if line is not None)

    def group(self, plan: GroupPlan, pad: str, depth: int, final: bool) -> str:
        if plan.kind == "block":
            (parts,) = plan.parts
            return f"{pad}nn.Sequential({_comment(_given(plan))}\n{self.sequence(parts, depth + 1, final)}\n{pad}),"
        branches = [f"{pad}{INDENT}nn.Sequential(\n{self.sequence(parts, depth + 2, False)}\n{pad}{INDENT}),"
                    if parts else f"{pad}{INDENT}nn.Identity()," for parts in plan.parts]  # empty: the identity
        return f"{pad}{plan.kind.capitalize()}({_comment(_given(plan))}\n" + "\n".join(branches) + f"\n{pad}),"
