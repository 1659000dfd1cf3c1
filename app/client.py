"""A small Python client for the convlens API, returning NumPy arrays.

    from app.client import Client
    with Client("http://127.0.0.1:8000") as c:
        up = c.upload("cat.png")
        res = c.convolve({"kind": "upload", "id": up["id"]}, layer={"padding": 1},
                         weights={"kind": "preset", "name": "sobel_x"})
        res["output"].shape   # (C_out, H_out, W_out) float32
"""
from __future__ import annotations

import io
from pathlib import Path
from typing import Any

import httpx
import numpy as np

from app.encoding import decode_array, decode_frame


class ApiError(Exception):
    def __init__(self, status: int, code: str, message: str):
        super().__init__(f"{status} {code}: {message}")
        self.status, self.code, self.message = status, code, message


class Client:
    def __init__(self, base_url: str = "http://127.0.0.1:8000", timeout: float = 60.0):
        self._http = httpx.Client(base_url=base_url, timeout=timeout)

    def __enter__(self) -> "Client":
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def close(self) -> None:
        self._http.close()

    def _check(self, r: httpx.Response) -> httpx.Response:
        if r.status_code >= 400:
            try:
                err = r.json()["error"]
                raise ApiError(r.status_code, err["code"], err["message"])
            except (ValueError, KeyError):
                raise ApiError(r.status_code, "http_error", r.text[:500]) from None
        return r

    def health(self) -> dict:
        return self._check(self._http.get("/healthz")).json()

    def samples(self) -> list[dict]:
        return self._check(self._http.get("/api/samples")).json()

    def presets(self) -> list[dict]:
        return self._check(self._http.get("/api/presets")).json()

    def upload(self, source: str | Path | bytes | np.ndarray, filename: str | None = None,
               keep_alpha: bool = False) -> dict:
        """Upload an image file, raw bytes or an array (sent as .npy); returns {id, shape, source}."""
        if isinstance(source, np.ndarray):
            buf = io.BytesIO()
            np.save(buf, source, allow_pickle=False)
            data, filename = buf.getvalue(), filename or "array.npy"
        elif isinstance(source, (str, Path)):
            data, filename = Path(source).read_bytes(), filename or Path(source).name
        else:
            data, filename = source, filename or "upload"
        r = self._http.post("/api/inputs", files={"file": (filename, data)},
                            data={"keep_alpha": str(keep_alpha).lower()})
        return self._check(r).json()

    def convolve(self, input: dict | None = None, layer: dict | None = None, weights: dict | None = None
                 ) -> dict[str, Any]:
        """The API's response with ``output`` and ``weight`` decoded to float32 arrays (sent as a binary
        frame: no base64 on either side)."""
        body = {k: v for k, v in (("input", input), ("layer", layer), ("weights", weights)) if v is not None}
        res = decode_frame(self._check(self._http.post("/api/convolve", json={**body, "encoding": "binary"})).content)
        res["output"] = decode_array(res["output"])
        res["weight"] = decode_array(res["weight"])
        res["bias"] = None if res["bias"] is None else np.asarray(res["bias"], dtype=np.float32)
        return res

    def trace(self, input: dict | None = None, layer: dict | None = None, weights: dict | None = None,
              positions: list[dict] | None = None, region: dict | None = None) -> dict[str, Any]:
        body = {k: v for k, v in (("input", input), ("layer", layer), ("weights", weights),
                                  ("positions", positions), ("region", region)) if v is not None}
        return self._check(self._http.post("/api/trace", json=body)).json()

    # -- networks (issue 13) -------------------------------------------------------------------------
    def models(self) -> list[dict]:
        """The built-in and uploaded models."""
        return self._check(self._http.get("/api/models")).json()

    def upload_model(self, source: str | Path | bytes, filename: str | None = None) -> dict:
        """Upload an .onnx file (a path or its bytes); returns the model's info with its id."""
        if isinstance(source, (str, Path)):
            data, filename = Path(source).read_bytes(), filename or Path(source).name
        else:
            data, filename = source, filename or "model.onnx"
        return self._check(self._http.post("/api/models/upload", files={"file": (filename, data)})).json()

    def model(self, model_id: str, height: int | None = None, width: int | None = None) -> dict:
        """A model's layers with their cost, the totals and the 1×1 share."""
        params = {k: v for k, v in (("height", height), ("width", width)) if v is not None}
        return self._check(self._http.get(f"/api/models/{model_id}", params=params)).json()

    def conv_layer(self, model_id: str, name: str) -> dict:
        """A Conv layer's weight shape, bias and BN folding, and the label the pages show for it."""
        return self._check(self._http.get(f"/api/models/{model_id}/conv", params={"name": name})).json()

    def run_model(self, model_id: str, input: dict | None = None, size: list[int] | None = None,
                  preview_channels: int = 16) -> dict[str, Any]:
        """A forward run: prediction, per-layer summaries and times, previews decoded to float32 arrays."""
        body = {"preview_channels": preview_channels, "encoding": "binary",
                **{k: v for k, v in (("input", input), ("size", size)) if v is not None}}
        res = decode_frame(self._check(self._http.post(f"/api/models/{model_id}/run", json=body)).content)
        for layer in res["layers"]:
            if layer["preview"] is not None:
                layer["preview"] = decode_array(layer["preview"])
        if res.get("input_preview") is not None:  # the model input as the server made it (e.g. from a picture)
            res["input_preview"] = decode_array(res["input_preview"])
        return res

    def activation(self, model_id: str, tensor: str, input: dict | None = None, size: list[int] | None = None
                   ) -> np.ndarray:
        """One tensor of the forward pass (batch axis dropped), as a float32 array."""
        body = {"tensor": tensor, "encoding": "binary", **{k: v for k, v in (("input", input), ("size", size)) if v is not None}}
        res = decode_frame(self._check(self._http.post(f"/api/models/{model_id}/activation", json=body)).content)
        return decode_array(res["activation"])
