"""A bad value's message names the field, the value and what is allowed, in words (issue 11 §2): never
pydantic's validator chains ("function-after[functools.partial(<function …>)]"), which every field
accepting several forms (an int or a pair; "same" or "valid") printed."""
from __future__ import annotations

import pytest

CASES = [
    ({"layer": {"stride": 0}}, "stride (layer.stride) is 0; it must be a whole number ≥ 1, or a list of them"),
    ({"layer": {"stride": [1]}}, "stride (layer.stride) is [1]; it must be a whole number, or a list of 2 of them"),
    ({"layer": {"padding": -1}}, "padding (layer.padding) is -1; it must be a whole number ≥ 0"),
    ({"layer": {"padding": "full"}}, "'same' or 'valid'"),
    ({"layer": {"kernel_size": 2.5}}, "kernel size (layer.kernel_size) is 2.5; it must be a whole number"),
    ({"layer": {"out_channels": 0}}, "out channels (layer.out_channels) is 0; it must be a whole number ≥ 1"),
    ({"layer": {"stride": 2**62}}, "it must be a whole number ≤ 2,147,483,647"),
    ({"layer": {"strides": 2}}, "strides (layer.strides) is not a field of this request"),
    ({"input": {"kind": "upload"}}, "id (input.id) is required"),
    ({"input": {"kind": "nope"}}, "kind (input.kind) is 'nope'; it must be 'sample', 'random', 'upload', 'activation'"),
    ({"input": {"kind": "random", "shape": [3, 0, 5]}}, "shape (input.shape[1]) is 0; it must be a whole number ≥ 1"),
    ({"weights": {"kind": "custom", "weight": [[[[1, "a"]]]]}}, "weight (weights.weight[0][0][0][1]) is 'a'; it must be a number"),
    ({"encoding": "xml"}, "encoding is 'xml'; it must be 'base64', 'binary', 'list', 'npy' or 'png'"),
]


@pytest.mark.parametrize("body, words", CASES, ids=[str(b) for b, _ in CASES])
def test_a_bad_value_is_described_in_words(client, body, words):
    res = client.post("/api/convolve", json=body)
    assert res.status_code == 422, res.text
    error = res.json()["error"]
    assert words in error["message"]
    assert "function-" not in error["message"] and "functools" not in error["message"] and "0x" not in error["message"]
    assert error["details"] and all("loc" in d for d in error["details"])  # the raw errors stay for programs


def test_several_fields_get_a_sentence_each(client):
    res = client.post("/api/pointwise/nin", json={"widths": [0, 300]})
    assert res.json()["error"]["message"] == ("widths (widths[0]) is 0; it must be a whole number ≥ 1; "
                                              "widths (widths[1]) is 300; it must be a whole number ≤ 256")
