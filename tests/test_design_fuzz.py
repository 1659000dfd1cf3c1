"""Random cost-lab designs, extreme values included (kernels and strides up to 2³¹−1, groups 0, "same"
padding, nested concat/add branches), sent to /api/cost, /api/measure and /api/receptive: each answer
is a 2xx or a 4xx, never a 500. 1,800 such designs found one 500: a 2³¹−1 kernel's zero weight was more
than NumPy can view (2⁶³ values)."""
from __future__ import annotations

import random

import pytest

VALUES = [0, 1, 2, 3, 5, 7, 64, 100, 1000, 2**20, 2**31 - 1]


def _design(rng: random.Random) -> dict:
    def v(lo=0):
        return max(lo, rng.choice(VALUES) if rng.random() < 0.5 else rng.randint(lo, 6))

    def pair(lo=1):
        return v(lo) if rng.random() < 0.6 else [v(lo), v(lo)]

    def layer(depth):
        op = rng.choice(["conv", "conv", "pool", "relu", "fc", "concat", "add"] if depth < 3 else ["conv", "pool", "relu", "fc"])
        if op == "conv":
            return {"op": "conv", "out": v(1), "k": pair(), "stride": pair(), "groups": rng.choice([0, 1, 1, 2, v()]),
                    "padding": rng.choice([v(), [v(), v()], "same", "valid"]), "bias": rng.random() < 0.5}
        if op == "pool":
            out = {"op": "pool", "k": pair(), "kind": rng.choice(["max", "avg"])}
            if rng.random() < 0.5:
                out["stride"] = pair()
            return out
        if op == "relu":
            return {"op": "relu"}
        if op == "fc":
            return {"op": "fc", "out": v(1), "bias": rng.random() < 0.5}
        return {"op": op, "branches": [[layer(depth + 1) for _ in range(rng.randint(0, 3))] for _ in range(rng.randint(1, 3))]}
    return {"name": "fuzz", "layers": [layer(0) for _ in range(rng.randint(1, 5))]}


@pytest.mark.parametrize("seed", range(3))
def test_random_designs_get_a_2xx_or_a_4xx(client, seed):
    rng = random.Random(seed)
    for _ in range(40):
        shape = [rng.choice([1, 3, 16, 64]), rng.choice([1, 7, 28, 224]), rng.choice([1, 7, 28, 224])]
        design = _design(rng)
        small = [min(shape[0], 16), min(shape[1], 32), min(shape[2], 32)]
        for path, body in (("/api/cost", {"input_shape": shape, "designs": [design]}),
                           ("/api/receptive", {"design": design, "input": {"kind": "random", "shape": small}}),
                           ("/api/measure", {"input_shape": small, "design": design, "repeats": 1, "warmup": 0})):
            res = client.post(path, json=body)
            assert res.status_code < 500, (path, body, res.text[:300])


def test_a_kernel_too_big_to_view_is_a_clear_422(client):
    design = {"layers": [{"op": "conv", "out": 5, "k": 2**31 - 1, "padding": "same"}]}
    for path, body in (("/api/cost", {"input_shape": [1, 28, 1], "designs": [design]}),
                       ("/api/measure", {"input_shape": [1, 28, 1], "design": design, "repeats": 1, "warmup": 0}),
                       ("/api/receptive", {"design": design, "input": {"kind": "random", "shape": [1, 28, 1]}})):
        res = client.post(path, json=body)
        assert res.status_code == 422 and "more than any layer can hold" in res.json()["error"]["message"], res.text
