"""Receptive fields against torch: the field of one output position is the bounding box of the non-zero
input gradient of that position, on random stacks (dilation, stride, padding, pooling) and branchy
designs. Weights and inputs are positive, so no gradient cancels; average pooling stands in for max
pooling in torch (the same window, but every pixel gets gradient, not only the maximum)."""
from __future__ import annotations

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from hypothesis import assume, given, settings, strategies as st

from app.designs import COMPARISONS, googlenet, resnet50
from app.engine.design import Add, Block, Concat, Conv, Fc, Pool, Relu
from app.engine.geometry import output_size
from app.engine.receptive import Field, clipped, design_fields, stack_fields, window

torch.set_num_threads(1)


def footprint(y: torch.Tensor, x: torch.Tensor, row: int, col: int):  # noqa: ANN201
    """Bounding box (top, left, bottom, right) of the input pixels that reach y[0, :, row, col]."""
    (grad,) = torch.autograd.grad(y[0, :, row, col].sum(), x, retain_graph=True)
    nz = np.argwhere(grad[0].sum(0).numpy() > 0)
    if not len(nz):
        return None  # every path runs through padding
    return int(nz[:, 0].min()), int(nz[:, 1].min()), int(nz[:, 0].max()), int(nz[:, 1].max())


@st.composite
def stacks(draw):
    layers, h, w = [], draw(st.integers(12, 40)), draw(st.integers(12, 40))
    sh, sw = h, w
    for _ in range(draw(st.integers(1, 5))):
        kind = draw(st.sampled_from(["conv", "conv", "pool", "1x1"]))
        if kind == "1x1":
            k, s, p, d = (1, 1), (1, 1), (0, 0), (1, 1)
        elif kind == "pool":
            k = (draw(st.integers(2, 3)),) * 2
            s, p, d = (draw(st.integers(1, 2)),) * 2, (draw(st.integers(0, 1)),) * 2, (1, 1)
        else:
            k = (draw(st.integers(1, 4)), draw(st.integers(1, 4)))
            s, d = (draw(st.integers(1, 2)), draw(st.integers(1, 2))), (draw(st.integers(1, 3)), draw(st.integers(1, 3)))
            p = (draw(st.integers(0, 2)), draw(st.integers(0, 2)))
        sh, sw = output_size(sh, k[0], s[0], p[0], p[0], d[0]), output_size(sw, k[1], s[1], p[1], p[1], d[1])
        assume(sh >= 1 and sw >= 1)
        layers.append((kind, k, s, p, d))
    return h, w, layers, draw(st.integers(0, 10**6))


def torch_stack(x, layers):
    for kind, k, s, p, d in layers:
        if kind == "pool":
            x = F.avg_pool2d(x, k, s, p)
        else:
            x = F.conv2d(x, torch.ones(2, x.shape[1], *k, dtype=x.dtype), None, s, p, d)
    return x


@settings(max_examples=60, deadline=None)
@given(stacks())
def test_stack_fields_equal_the_torch_gradient_footprint(case):
    h, w, layers, seed = case
    x = torch.rand(1, 2, h, w, dtype=torch.float64) + 0.5
    x.requires_grad_(True)
    y = torch_stack(x.double(), [(kd, k, s, p, d) for kd, k, s, p, d in layers])
    field = stack_fields([window(k, s, (p[0], p[1]), d) for _, k, s, p, d in layers])[-1]
    rng = np.random.default_rng(seed)
    for row, col in {(int(rng.integers(y.shape[2])), int(rng.integers(y.shape[3]))) for _ in range(6)} | {(0, 0)}:
        box = field.box(row, col, h, w)
        got = footprint(y, x, row, col)
        if box == clipped(box, h, w):  # the whole field lies inside the input: every extreme pixel is reached
            assert got == box
        elif got is not None:  # near a border part of the field is padding; what is reached lies inside it
            inside = clipped(box, h, w)
            assert inside[0] <= got[0] and inside[1] <= got[1] and got[2] <= inside[2] and got[3] <= inside[3]


def torch_design(x, layers):
    """A design run in torch with all-ones weights; Fc layers are not used here."""
    for layer in layers:
        if isinstance(layer, Block):
            x = torch_design(x, layer.layers)
        elif isinstance(layer, (Concat, Add)):
            outs = [torch_design(x, b) for b in layer.branches]
            x = torch.cat(outs, 1) if isinstance(layer, Concat) else sum(outs)
        elif isinstance(layer, Conv):
            groups = x.shape[1] if layer.groups == 0 else layer.groups
            x = F.conv2d(x, torch.ones(layer.out, x.shape[1] // groups, *np.broadcast_to(layer.k, 2),
                                       dtype=x.dtype), None, layer.stride, layer.padding, 1, groups)
        elif isinstance(layer, Pool):
            x = F.avg_pool2d(x, layer.k, layer.stride, layer.padding)
        elif isinstance(layer, Relu):
            x = F.relu(x)
    return x


BRANCHY = [
    ("inception (3a)", (8, 20, 20), COMPARISONS["inception3a"].designs[1][1]),
    ("resnet bottleneck + projection", (4, 23, 23),
     (Conv(4, 3, 1, 1), Add(((Conv(2, 1, 2), Relu(), Conv(2, 3, 1, 1), Conv(8, 1)), (Conv(8, 1, 2),))))),
    ("branches of different reach", (2, 30, 30),
     (Pool(2, 2), Concat(((Conv(2, 5, 1, 2),), (Conv(2, 1), Conv(2, 3, 1, 1, name="1×1 then 3×3")),
                          (Pool(3, 1, 1),))), Conv(3, 3, padding=1))),
    ("googlenet stem", (3, 64, 64), googlenet().layers[:4]),
]


@pytest.mark.parametrize("name,shape,layers", BRANCHY, ids=[b[0] for b in BRANCHY])
def test_branchy_designs_report_the_union_of_their_paths_as_torch_sees_it(name, shape, layers):
    x = (torch.rand(1, *shape, dtype=torch.float64) + 0.5).requires_grad_(True)
    y = torch_design(x, layers)
    field = design_fields(layers, shape)[-1].field
    checked = 0
    for row in range(y.shape[2]):
        for col in range(y.shape[3]):
            box = field.box(row, col, *shape[1:])
            if box == clipped(box, *shape[1:]):
                assert footprint(y, x, row, col) == box, (row, col)
                checked += 1
    assert checked or name == "googlenet stem"


def test_one_by_one_layers_leave_the_field_unchanged_and_strides_grow_the_jump():
    rows = design_fields(COMPARISONS["resnet_bottleneck"].designs[1][1], (256, 56, 56))
    sizes = [(r.kind, r.summary()["h"]["size_max"], r.summary()["h"]["jump_max"]) for r in rows]
    # 1×1 → relu → 3×3 (p1) → relu → 1×1: 1, 1, 1 + 2·1 = 3, 3, 3
    assert [s[1] for s in sizes] == [1, 1, 3, 3, 3]
    stem = design_fields(googlenet().layers[:4], (3, 224, 224))
    h = [r.summary()["h"] for r in stem]
    # 7×7/2 p3: r = 7, j = 2, u = −3; max pool 3×3/2 p1: r = 7 + 2·2 = 11, j = 4, u = −3 − 1·2 = −5;
    # 1×1: unchanged; 3×3/1 p1: r = 11 + 2·4 = 19, u = −5 − 4 = −9; max pool 3×3/2 p1: r = 19 + 2·4 = 27, j = 8
    assert [(v["size_max"], v["jump_max"], v["start"]) for v in h] == [
        (7, 2, -3), (11, 4, -5), (11, 4, -5), (19, 4, -9), (19, 4, -9), (27, 8, -13)]
    assert [r.kind for r in stem][2:5] == ["conv 1×1/1", "conv 3×3/1", "block"]


def test_branch_sizes_are_reported_as_a_range_and_fc_sees_everything():
    rows = design_fields(COMPARISONS["inception3a"].designs[1][1], (192, 28, 28))
    concat = rows[-1].summary()["h"]
    # branches: 1×1 (1), 1×1→3×3 (3), 1×1→5×5 (5), 3×3 pool→1×1 (3)
    assert (concat["size_min"], concat["size_max"], concat["paths"]) == (1, 5, 3)
    assert design_fields([Conv(4, 3), Fc(10)], (1, 8, 8))[-1].field == Field(whole=True)


def test_resnet50_field_grows_through_every_stage():
    rows = design_fields(resnet50().layers[:-2], (3, 224, 224))
    final = rows[-1].summary()["h"]
    # the deepest path: conv1 7/2, pool 3/2, then 3 + 4 + 6 + 3 bottlenecks, each with one 3×3 that adds
    # 2·jump; the stride sits on each stage's first 1×1, so jumps are 4, 8, 16, 32. Araujo et al. list 483
    deepest = 7 + 2 * 2 + 2 * 4 * 3 + 2 * 8 * 4 + 2 * 16 * 6 + 2 * 32 * 3
    assert deepest == 483
    assert final["size_max"] == deepest and final["jump_max"] == 32


# ---- imported models: the same recurrence over app.engine.graph --------------------------------------

def test_an_imported_models_fields_equal_torchs_gradient_footprint():
    """An Inception-like block exported to ONNX and imported: every 4-D node's field (union over the
    branches) is the gradient footprint of that node in torch, at positions whose field is inside."""
    import torch.nn as nn

    from app.engine.graph import Graph  # noqa: F401  (the walk takes the importer's graph)
    from app.engine.receptive import graph_fields
    from app.models.onnx_import import model_graph, parse_model
    from app.settings import Settings
    from tests.onnx_models import export

    class Net(nn.Module):
        def __init__(self):
            super().__init__()
            self.stem = nn.Conv2d(2, 4, 3, 2, 1)
            self.a, self.b = nn.Conv2d(4, 3, 1), nn.Sequential(nn.Conv2d(4, 3, 1), nn.Conv2d(3, 3, 5, padding=4, dilation=2))
            self.pool = nn.AvgPool2d(3, 2, 1)
            self.mix = nn.Conv2d(6, 2, 1)

        def forward(self, x):
            x = torch.relu(self.stem(x))
            return self.mix(self.pool(torch.cat([self.a(x), self.b(x)], 1)))

    net = Net().eval()
    for p in net.parameters():
        p.data = p.data.abs() + 0.1  # positive: no gradient cancels
    x = torch.rand(1, 2, 40, 40) + 0.5
    graph = model_graph(parse_model(export(net, x, True), Settings()), None, Settings())
    rows, stopped = graph_fields(graph)
    assert stopped is None and rows[-1].summary()["h"]["size_max"] == 3 + 2 * 2 * 4 + 2 * 2 and not rows[-1].grows
    xt = x.double().requires_grad_(True)
    y = net.double()(xt)
    field, checked = rows[-1].field, 0
    for r in range(y.shape[2]):
        for c in range(y.shape[3]):
            box = field.box(r, c, 40, 40)
            if box == clipped(box, 40, 40):
                assert footprint(y, xt, r, c) == box
                checked += 1
    assert checked > 0
