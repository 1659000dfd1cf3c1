"""What an imported model computes from constants alone, folded once, at load.

- Constant nodes, and the cheap ops whose every input is a constant (a ReLU6's bounds exported as
  Cast(Constant)), become tensors beside the initializers, as Netron and onnxruntime's optimiser fold
  them: they are not layers a learner should read in the network's table, and a Clip whose bounds are
  constants runs fused into the Conv before it (engine/ops Clip.clip_bounds).
- BatchNormalization folds into the convolution before it: y = γ·(conv(x) − μ)/√(σ² + ε) + β is a
  convolution with weight W·s and bias (b − μ)·s + β, where s = γ/√(σ² + ε) per output channel.
  Computed in float64 and rounded once to float32.
"""
from __future__ import annotations

from dataclasses import replace

import numpy as np

from app.engine.errors import GeometryError
from app.engine.graph import BudgetError
from app.engine.ops import Node, numel, op_of

# ops folded when all their inputs are constants: each costs about one pass over values whose count is
# checked first (a Conv of constants could cost any number of MACs, and is left to run)
FOLDABLE = {"Cast", "Identity", "Reshape", "Flatten", "Concat", "Add", "Sub", "Mul", "Div"}


def fold_constants(nodes: list[Node], consts: dict[str, np.ndarray], outputs: set[str], max_values: int
                   ) -> tuple[list[Node], dict[str, np.ndarray], frozenset[str]]:
    """Nodes without the ones computed from constants alone, the constants with their values, and the
    names of those values. Nodes come in the file's order, which ONNX requires to be topological; a node
    whose constant input comes later is simply kept. A graph output is never folded (the run yields it).
    ``max_values`` bounds the values computed, checked from inferred shapes before any is."""
    consts, kept, folded, total = dict(consts), [], set(), 0
    for node in nodes:
        real = [x for x in node.inputs if x]
        foldable = node.op == "Constant" or (node.op in FOLDABLE and real and all(x in consts for x in real))
        if not foldable or any(o in outputs for o in node.outputs):
            kept.append(node)
            continue
        op = op_of(node)
        xs = [consts[x] if x else None for x in node.inputs]
        shapes = op.infer(node, [None if x is None else tuple(x.shape) for x in xs], xs)
        total += 0 if node.op == "Constant" else sum(numel(tuple(sh)) for sh in shapes)  # (counted as parsed)
        if total > max_values:
            raise BudgetError("values computed from constants at load", total, max_values, "max_model_params")
        for name, value in zip(node.outputs, op.forward(node, xs)):
            consts[name] = np.asarray(value)
            folded.add(name)
    return kept, consts, frozenset(folded)


def fold_batchnorm(nodes: list[Node], consts: dict[str, np.ndarray], outputs: set[str]
                   ) -> tuple[list[Node], dict[str, np.ndarray]]:
    """Nodes without BatchNormalization; each one's Conv carries attrs["bn_folded"]. A BN that does not
    directly follow a Conv whose output nothing else reads is refused, with its name."""
    consts = dict(consts)
    readers: dict[str, int] = {}
    for n in nodes:
        for x in n.inputs:
            readers[x] = readers.get(x, 0) + 1
    by_output = {o: i for i, n in enumerate(nodes) for o in n.outputs}
    out = list(nodes)
    dropped = set()
    for i, bn in enumerate(nodes):
        if bn.op != "BatchNormalization":
            continue
        src = by_output.get(bn.inputs[0])
        conv = out[src] if src is not None else None
        if (conv is None or conv.op != "Conv" or readers.get(bn.inputs[0], 0) != 1 or bn.inputs[0] in outputs
                or len(bn.outputs) != 1 or len(bn.inputs) != 5
                or any(x not in consts for x in (*bn.inputs[1:], *conv.inputs[1:]))):
            raise GeometryError(f"BatchNormalization node '{bn.name}' can only be folded into a Conv right "
                                "before it (with constant weights, whose output only the BN reads); this one cannot")
        gamma, beta, mean, var = (consts[x].astype(np.float64) for x in bn.inputs[1:])
        s = gamma / np.sqrt(var + float(bn.attrs.get("epsilon", 1e-5)))
        w = consts[conv.inputs[1]].astype(np.float64)
        b = consts[conv.inputs[2]].astype(np.float64) if len(conv.inputs) > 2 and conv.inputs[2] else 0.0
        w_name, b_name = f"{conv.name}.weight(bn_folded)", f"{conv.name}.bias(bn_folded)"
        consts[w_name] = (w * s[:, None, None, None]).astype(np.float32)
        consts[b_name] = ((b - mean) * s + beta).astype(np.float32)
        out[src] = replace(conv, inputs=(conv.inputs[0], w_name, b_name), outputs=(bn.outputs[0],),
                           attrs={**conv.attrs, "bn_folded": True})
        dropped.add(i)
    return [n for i, n in enumerate(out) if i not in dropped], consts
