"""Arrays → the wire. Compact base64 little-endian float32 by default: nested JSON lists of floats
cost seconds on a 512×512 output, a base64 string costs milliseconds."""
from __future__ import annotations

import base64
import io
import json
import secrets

import numpy as np
from PIL import Image

from app.schemas import EncodedArray


def _channel_stats(arr: np.ndarray) -> tuple[list[float], list[float]]:
    flat = arr.reshape(arr.shape[0], -1) if arr.ndim >= 2 else arr.reshape(1, -1)
    return flat.min(axis=1).tolist(), flat.max(axis=1).tolist()


def encode_array(arr: np.ndarray, encoding: str = "base64") -> EncodedArray:
    arr = np.ascontiguousarray(arr, dtype="<f4")
    lo, hi = _channel_stats(arr)
    data = base64.b64encode(arr.tobytes()).decode("ascii") if encoding == "base64" else arr.tolist()
    return EncodedArray(shape=list(arr.shape), encoding="base64" if encoding == "base64" else "list",
                        data=data, channel_min=lo, channel_max=hi)


def json_bytes(obj: dict) -> bytes:
    """JSON for a response that holds base64 arrays, without scanning megabytes of base64 for escapes:
    each array's data is swapped for a marker, the small rest goes through json.dumps, and the base64
    (which never needs escaping) is spliced back in. The marker holds a random token, so no string a
    user sent (a file name, say) can be mistaken for one."""
    token = secrets.token_hex(8)
    chunks: list[bytes] = []

    def swap(value):
        if isinstance(value, EncodedArray):
            value = value.model_dump()
        if isinstance(value, dict):
            if value.get("encoding") == "base64" and isinstance(value.get("data"), str):
                chunks.append(value["data"].encode("ascii"))
                return {**value, "data": f"@{token}:{len(chunks) - 1}@"}
            if value.get("encoding") == "list":
                return value  # an array as nested lists: nothing to splice, and too big to walk in Python
            return {k: swap(v) for k, v in value.items()}
        if isinstance(value, list):
            return [swap(v) for v in value]
        return value
    parts = json.dumps(swap(obj), separators=(",", ":")).encode().split(f'"@{token}:'.encode())
    out = [parts[0]]
    for part in parts[1:]:
        index, rest = part.split(b'@"', 1)
        out += [b'"', chunks[int(index)], b'"', rest]
    return b"".join(out)


def decode_array(payload: dict) -> np.ndarray:
    """Inverse of encode_array, for the Python client and the tests."""
    if payload["encoding"] == "base64":
        return np.frombuffer(base64.b64decode(payload["data"]), dtype="<f4").reshape(payload["shape"])
    return np.asarray(payload["data"], dtype=np.float32).reshape(payload["shape"])


def npy_bytes(arr: np.ndarray) -> bytes:
    buf = io.BytesIO()
    np.save(buf, np.ascontiguousarray(arr, dtype="<f4"), allow_pickle=False)
    return buf.getvalue()


def to_png(arr: np.ndarray, channel: int | None = None) -> bytes:
    """A picture of a (C, H, W) tensor: RGB when it has 3 channels and no channel is chosen, else one
    channel in grey. Values in [0, 1] are drawn as they are; anything else is stretched min→max."""
    if channel is None and arr.shape[0] in (3, 4):
        img = arr[:3]
    else:
        img = arr[channel or 0][None]
    lo, hi = float(img.min()), float(img.max())
    if lo < 0 or hi > 1:
        img = (img - lo) / (hi - lo) if hi > lo else np.zeros_like(img)
    pixels = np.round(np.clip(img, 0, 1) * 255).astype(np.uint8)
    mode_img = Image.fromarray(pixels[0]) if pixels.shape[0] == 1 else Image.fromarray(pixels.transpose(1, 2, 0))
    buf = io.BytesIO()
    mode_img.save(buf, format="PNG")
    return buf.getvalue()
