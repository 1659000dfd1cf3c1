"""A real uvicorn process started as a user would (`python -m app`), used through app.client."""
from __future__ import annotations

import numpy as np
import pytest

from app.client import ApiError, Client
from app.inputs.samples import random_tensor
from tests.images import png_rgb


def test_client_round_trip(live_server):
    with Client(live_server) as c:
        assert c.health()["status"] == "ok"
        assert any(s["name"] == "edges" for s in c.samples())
        up = c.upload(png_rgb(), filename="g.png")
        res = c.convolve({"kind": "upload", "id": up["id"]}, layer={"padding": 1},
                         weights={"kind": "preset", "name": "sobel_x"})
        assert res["output"].shape == (3, 12, 16) and res["output"].dtype == np.float32
        arr = random_tensor((2, 5, 5), 1)
        up2 = c.upload(arr)
        same = c.convolve({"kind": "upload", "id": up2["id"]}, weights={"kind": "preset", "name": "identity_1x1"})
        assert np.array_equal(same["output"], arr)
        t = c.trace({"kind": "upload", "id": up2["id"]}, layer={"kernel_size": 3, "out_channels": 1},
                    positions=[{"row": 1, "col": 2}])
        assert len(t["traces"]) == 1
        with pytest.raises(ApiError) as err:
            c.convolve({"kind": "random", "shape": [3, 4, 4]}, layer={"kernel_size": 9})
        assert err.value.status == 422 and "larger than the padded input" in err.value.message
