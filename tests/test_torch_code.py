"""The PyTorch source the cost lab prints is a network that computes the design: executed with torch, it
has the counted parameters and gives the counted output shape (an nn.Sequential of Inception's branches
would chain them instead, and fail on the second branch's channels)."""
from __future__ import annotations

import pytest
import torch

from app.designs import ARCHITECTURES, COMPARISONS, architecture
from app.engine.design import Add, Block, Concat, Conv, Fc, Pool, Relu
from app.engine.lower_design import design_cost, lower
from app.torch_code import torch_source

CASES = [(f"{c.name}: {n}", layers, c.input_shape) for c in COMPARISONS.values() for n, layers in c.designs]
CASES += [(name, architecture(name).layers, architecture(name).input_shape) for name in ARCHITECTURES]
CASES += [  # empty branches (the identity), a nested branch, a layer after a fully connected one
    ("residual", (Add(((Conv(4, 3, padding=1), Relu(), Conv(4, 3, padding=1)), ())),), (4, 8, 8)),
    ("concat with identity", (Concat(((), (Conv(2, 1),), (Concat(((Pool(3, 1, 1, kind="avg"),), ())),))),), (3, 6, 6)),
    ("fc then conv", (Fc(16, bias=True), Conv(4, 1), Relu()), (2, 3, 3)),
    # the nesting comes from the lowering's plan: blocks in blocks, a final fc inside a block (torch's
    # (N, out) then), fully connected branches, a one-branch add, an empty block
    ("nested blocks", (Block((Conv(4, 3, padding=1, name="c1"), Block((Relu(),), name="inner"), Fc(8)),
                             name="outer"), Conv(2, 1)), (3, 6, 6)),
    ("fc ends a block", (Conv(2, 1), Block((Relu(), Fc(5, bias=True)), name="head")), (3, 4, 4)),
    ("fc branches", (Add(((Fc(4),), (Fc(4, bias=True),)), name="sum"), Relu()), (2, 3, 3)),
    ("one-branch add", (Add(((Conv(3, 1),),)),), (3, 4, 4)),
    ("empty block", (Conv(3, 1), Block((), name="nothing")), (3, 4, 4)),
]


def _ends_in_fc(layers) -> bool:
    """A fully connected layer last, or last in a Block that is last: it leaves torch's (N, features)."""
    last = layers[-1] if layers else None
    return isinstance(last, Fc) or (isinstance(last, Block) and _ends_in_fc(last.layers))


def _build(source: str) -> torch.nn.Module:
    scope: dict = {}
    exec(compile(source, "<design>", "exec"), scope)  # noqa: S102 - our own generated source, in a test
    return scope["model"]


@pytest.mark.parametrize("name, layers, shape", CASES, ids=[c[0] for c in CASES])
def test_generated_module_has_the_counted_params_and_output(name, layers, shape):
    cost = design_cost(layers, shape)
    model = _build(torch_source(name, lower(layers, shape)))
    assert sum(p.numel() for p in model.parameters()) == cost.params
    with torch.no_grad():
        out = model(torch.zeros(1, *shape))
    # a final fully connected layer leaves torch's (N, features), as nn.Linear gives it
    assert tuple(out.shape) == ((1, cost.out_shape[0]) if _ends_in_fc(layers) else (1, *cost.out_shape))


def test_inception_prints_a_module_that_concatenates():
    c = COMPARISONS["inception3a"]
    name, layers = c.designs[1]
    source = torch_source(name, lower(layers, c.input_shape))
    assert "torch.cat([branch(x) for branch in self.branches], dim=1)" in source
    assert "class Add" not in source  # helpers only when used


def test_a_layer_name_cannot_escape_its_comment():
    layers = (Relu(name="x\nimport os\ros.system('echo')"),)
    source = torch_source("d\u2028e", lower(layers, (1, 2, 2)))
    assert "\nimport os" not in source and "\ros" not in source and "\u2028" not in source
    _build(source)
