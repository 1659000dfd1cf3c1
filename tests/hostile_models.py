"""A corpus of hostile ONNX models, each with what its refusal must say. Built with onnx.helper (ir_version
10); none is ever given to onnxruntime."""
from __future__ import annotations

import numpy as np
from onnx import TensorProto, helper, numpy_helper


def model(nodes, inits=(), x_shape=(1, 1, 8, 8), out="y", opsets=(("", 13),), **extra) -> bytes:
    g = helper.make_graph(list(nodes), "hostile", [helper.make_tensor_value_info("x", TensorProto.FLOAT, list(x_shape))],
                          [helper.make_tensor_value_info(out, TensorProto.FLOAT, None)], list(inits))
    m = helper.make_model(g, opset_imports=[helper.make_opsetid(d, v) for d, v in opsets], ir_version=10)
    for k, v in extra.items():  # functions live on the model, sparse initializers on its graph
        getattr(m if k == "functions" else m.graph, k).extend(v)
    return m.SerializeToString()


def relu_model() -> bytes:
    return model([helper.make_node("Relu", ["x"], ["y"])])


def conv_with(init: TensorProto) -> bytes:
    return model([helper.make_node("Conv", ["x", init.name], ["y"])], [init])


def _external(location: str) -> TensorProto:
    t = TensorProto(name="w", data_type=TensorProto.FLOAT, dims=[1, 1, 1, 1])
    t.data_location = TensorProto.EXTERNAL
    for k, v in (("location", location), ("offset", "0"), ("length", "4")):
        t.external_data.add(key=k, value=v)
    return t


def _declared(dims, nbytes) -> TensorProto:
    t = TensorProto(name="w", data_type=TensorProto.FLOAT, dims=dims)
    t.raw_data = b"\0" * nbytes
    return t


def _folded_bomb(nodes, shape) -> bytes:
    """A few bytes of Constant nodes whose folding at load would make tens of millions of values."""
    consts = [helper.make_node("Constant", [], ["c"], value=numpy_helper.from_array(np.ones(shape, np.float32))),
              helper.make_node("Constant", [], ["s"], value=numpy_helper.from_array(np.array([1, shape[0]], np.int64)))]
    return model([*consts, *nodes, helper.make_node("Relu", ["x"], ["y"])])


def _loop() -> bytes:
    body = helper.make_graph([helper.make_node("Identity", ["c"], ["c_out"])], "body",
                             [helper.make_tensor_value_info(n, t, []) for n, t in (("i", TensorProto.INT64), ("c", TensorProto.BOOL))],
                             [helper.make_tensor_value_info("c_out", TensorProto.BOOL, [])])
    return model([helper.make_node("Loop", ["", ""], ["y"], body=body)])


def _function() -> bytes:
    f = helper.make_function("my.fn", "Twice", ["a"], ["b"], [helper.make_node("Relu", ["a"], ["b"])],
                             [helper.make_opsetid("", 13)])
    return model([helper.make_node("Relu", ["x"], ["y"])], functions=[f])


def _sparse() -> bytes:
    values = numpy_helper.from_array(np.ones(1, np.float32), "w")
    sp = helper.make_sparse_tensor(values, numpy_helper.from_array(np.zeros(1, np.int64), "i"), [1, 1, 1, 1])
    return model([helper.make_node("Conv", ["x", "w"], ["y"])], sparse_initializer=[sp])


def _chain(n: int) -> bytes:
    nodes = [helper.make_node("Relu", [f"t{i}" if i else "x"], [f"t{i + 1}" if i < n - 1 else "y"]) for i in range(n)]
    return model(nodes)


def conv_with_attrs(**attrs) -> bytes:
    w = numpy_helper.from_array(np.ones((2, 1, 3, 3), np.float32), "w")
    return model([helper.make_node("Conv", ["x", "w"], ["y"], **attrs)], [w])


def _broken_text(field: str) -> bytes:
    """A model whose node name or op type is not valid UTF-8: the bytes patched after serialising."""
    node = helper.make_node("Relu", ["x"], ["y"], name="NAMEMARK") if field == "name" else helper.make_node("Relu", ["x"], ["y"])
    data = model([node])
    mark = b"NAMEMARK" if field == "name" else b"Relu"
    return data.replace(mark, mark[:-1] + b"\xeb", 1)


# name → (model bytes, HTTP status, words the message must contain)
CORPUS = {
    "not_onnx": (lambda: b"\x89PNG\r\n\x1a\n" + b"\xff" * 100, 422, ["ONNX"]),
    "truncated": (lambda: conv_with(numpy_helper.from_array(np.ones((4, 1, 3, 3), np.float32), "w"))[:-40], 422, []),
    "huge_declared_initializer": (lambda: conv_with(_declared([100_000, 100_000, 1, 1], 4)), 413, ["MAX_MODEL_PARAMS"]),
    "initializer_bytes_disagree": (lambda: conv_with(_declared([8, 1, 3, 3], 12)), 422, ["declares", "holds 12 bytes"]),
    "external_data": (lambda: conv_with(_external("weights.bin")), 422, ["external data", "weights.bin"]),
    "external_data_dotdot": (lambda: conv_with(_external("../../etc/passwd")), 422, ["external data"]),
    "cycle": (lambda: model([helper.make_node("Relu", ["x2"], ["x1"]), helper.make_node("Add", ["x1", "x"], ["x2"]),
                             helper.make_node("Relu", ["x2"], ["y"])]), 422, ["cycle"]),
    "unknown_ops": (lambda: model([helper.make_node("LSTM", ["x"], ["a"]), helper.make_node("FooBar", ["a"], ["y"])]),
                    422, ["unsupported ops", "FooBar", "LSTM"]),
    "custom_domain": (lambda: model([helper.make_node("Gelu", ["x"], ["y"], domain="com.evil")],
                                    opsets=(("", 13), ("com.evil", 1))), 422, ["com.evil"]),
    "loop": (_loop, 422, ["subgraph"]),
    "function": (_function, 422, ["function"]),
    "sparse_initializer": (_sparse, 422, ["sparse"]),
    "hundred_thousand_nodes": (lambda: _chain(10**5), 413, ["node count", "MAX_MODEL_NODES"]),
    "billion_element_activation": (lambda: model([helper.make_node("Concat", ["x"] * 1000, ["y"], axis=1)],
                                                 x_shape=(1, 1, 1000, 1000)), 413, ["1,000,000,000", "MAX_OUTPUT_ELEMENTS"]),
    "dynamic_reshape": (lambda: model([helper.make_node("Relu", ["x"], ["s"]), helper.make_node("Reshape", ["x", "s"], ["y"])]),
                        422, ["must be a constant"]),
    "node_name_not_utf8": (lambda: _broken_text("name"), 422, ["node's name", "UTF-8"]),
    "op_type_not_utf8": (lambda: _broken_text("op_type"), 422, ["op type", "UTF-8"]),
    "huge_pads_with_a_huge_stride": (lambda: conv_with_attrs(strides=[30000, 30000], pads=[30000] * 4), 413,
                                     ["padded input", "MAX_OUTPUT_ELEMENTS"]),
    "two_inputs_missing": (lambda: model([helper.make_node("Add", ["x", "nowhere"], ["y"])]), 422, ["nowhere"]),
    # what Constant nodes alone compute is folded at load: its size is checked before a value is computed
    "constants_concatenated_at_load": (lambda: _folded_bomb([helper.make_node("Concat", ["c"] * 1024, ["big"], axis=0)],
                                                            (65537,)), 413, ["computed from constants", "MAX_MODEL_PARAMS"]),
    "constants_outer_sum_at_load": (lambda: _folded_bomb([helper.make_node("Reshape", ["c", "s"], ["row"]),
                                                          helper.make_node("Add", ["c", "row"], ["big"])], (8193, 1)),
                                    413, ["computed from constants", "MAX_MODEL_PARAMS"]),
}
