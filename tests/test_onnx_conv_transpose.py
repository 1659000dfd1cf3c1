"""ConvTranspose in the op registry and ONNX import (issue 15): a small encoder–decoder exported from torch
runs through the engine's graph with every activation equal to onnxruntime's and the output equal to
torch's; its cost table counts what torch's FlopCounterMode counts (ptflops #57/#149 and fvcore #78
report counters that get ConvTranspose wrong); a layout the engine cannot express is refused."""
from __future__ import annotations

import numpy as np
import pytest
import torch
import torch.nn as nn
from onnx import TensorProto, helper, numpy_helper
from torch.utils.flop_counter import FlopCounterMode

from app.engine.graph import cost_table, run
from app.errors import ConvlensError
from app.models.onnx_import import model_graph, parse_model
from tests.onnx_models import export
from tests.test_onnx_import import S, assert_close, check_against_ort

torch.set_num_threads(1)

DECODERS = {
    "fcn-like ×2": lambda: nn.Sequential(nn.Conv2d(3, 8, 3, 2, 1), nn.ReLU(), nn.ConvTranspose2d(8, 4, 3, 2, 1, 1),
                                         nn.ReLU(), nn.Conv2d(4, 2, 1)),
    "grouped dilated, bias off": lambda: nn.Sequential(
        nn.Conv2d(3, 6, 3, padding=1), nn.ConvTranspose2d(6, 9, (3, 2), (3, 2), (2, 1), (1, 0), groups=3, bias=False,
                                                          dilation=(2, 1))),
    "bilinear-sized ×4": lambda: nn.Sequential(nn.ConvTranspose2d(3, 3, 8, 4, 2, groups=3)),
}


@pytest.fixture(scope="module", params=sorted(DECODERS))
def decoder(request):
    torch.manual_seed(0)
    m = DECODERS[request.param]().eval()
    x = torch.randn(1, 3, 13, 11, generator=torch.Generator().manual_seed(1))
    return request.param, m, x


@pytest.mark.parametrize("keep_bn", [True, False], ids=["torchscript", "dynamo"])
def test_every_activation_equals_onnxruntime_and_torch(decoder, keep_bn):
    name, m, x = decoder
    data = export(m, x, keep_bn)
    pm = parse_model(data, S)
    assert any(n.op == "ConvTranspose" for n in pm.nodes)
    assert check_against_ort(data, x.numpy()) >= 1
    with torch.no_grad():
        ref = m(x).numpy()
    assert_close(run(model_graph(pm, None, S), {pm.input_name: x.numpy()})[pm.outputs[0]], ref, name)


def test_cost_table_counts_what_torch_counts(decoder):
    name, m, x = decoder
    rows = cost_table(model_graph(parse_model(export(m, x, True), S), None, S))
    assert sum(r.cost.params for r in rows) == sum(p.numel() for p in m.parameters())
    with FlopCounterMode(display=False) as fc, torch.no_grad():
        m(x)
    assert 2 * sum(r.cost.macs for r in rows) == fc.get_total_flops()


def _tconv_model(**attrs) -> bytes:
    w = numpy_helper.from_array(np.ones((2, 3, 3, 3), np.float32), "w")
    node = helper.make_node("ConvTranspose", ["x", "w"], ["y"], name="up", **attrs)
    g = helper.make_graph([node], "g", [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 2, 5, 5])],
                          [helper.make_tensor_value_info("y", TensorProto.FLOAT, None)], [w])
    return helper.make_model(g, opset_imports=[helper.make_opsetid("", 13)]).SerializeToString()


@pytest.mark.parametrize("attrs,needle", [
    (dict(pads=[1, 1, 0, 0], strides=[2, 2]), "asymmetric pads"),
    (dict(output_shape=[10, 10], strides=[2, 2]), "output_shape"),
    (dict(strides=[2, 2], output_padding=[2, 2]), "smaller than the stride"),
])
def test_layouts_the_engine_cannot_express_are_refused(attrs, needle):
    with pytest.raises((ConvlensError, ValueError)) as err:
        model_graph(parse_model(_tconv_model(**attrs), S), None, S)
    assert needle in str(err.value)
