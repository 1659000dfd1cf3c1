"""BatchNormalization folded into the convolution before it, once, at load.

y = γ·(conv(x) − μ)/√(σ² + ε) + β is a convolution with weight W·s and bias (b − μ)·s + β, where
s = γ/√(σ² + ε) per output channel. Computed in float64 and rounded once to float32.
"""
from __future__ import annotations

from dataclasses import replace

import numpy as np

from app.engine.errors import GeometryError
from app.engine.ops import Node


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
