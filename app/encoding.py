"""Arrays → the wire. Compact base64 little-endian float32 by default: nested JSON lists of floats
cost seconds on a 512×512 output, a base64 string costs milliseconds. The binary frame costs nothing
per value: the arrays' own memory is sent after a JSON header, and a browser reads them as
Float32Array views without decoding (the pages use it).

Binary frame (``application/x-convlens-frame``)::

    uint32 little-endian N | N bytes of UTF-8 JSON (space-padded so 4 + N is a multiple of 8) | data

Each array in the JSON has ``encoding: "binary"``, ``offset`` (bytes from the start of the data
section, a multiple of 8) and ``nbytes``; its values are little-endian float32, row-major.
"""
from __future__ import annotations

import base64
import io
import json
import secrets
import struct

import numpy as np
from PIL import Image

from app.schemas import EncodedArray


def _channel_stats(arr: np.ndarray) -> tuple[list[float], list[float]]:
    flat = arr.reshape(arr.shape[0], -1) if arr.ndim >= 2 else arr.reshape(1, -1)
    return flat.min(axis=1).tolist(), flat.max(axis=1).tolist()


FRAME_MEDIA_TYPE = "application/x-convlens-frame"


# Bytes each float32 value costs on the wire, per encoding: raw (binary, npy), 4/3 of that as base64, and
# for JSON lists the longest repr of a float32 widened to a double ("-1.2345678901234567e-05") plus ", ".
# PNG sends one byte per pixel of one channel.
BYTES_PER_VALUE = {"binary": 4.0, "npy": 4.0, "base64": 16 / 3, "list": 25.0, "png": 1.0}


def response_bytes(values: int, encoding: str) -> int:
    """An upper estimate of a response body carrying this many float32 values (headers excluded)."""
    return int(values * BYTES_PER_VALUE[encoding])




class Frame:
    """The arrays of one binary response, kept as they are (no copy) until they are sent."""

    def __init__(self) -> None:
        self.arrays: list[np.ndarray] = []
        self.size = 0

    def add(self, arr: np.ndarray) -> int:
        offset = self.size
        self.arrays.append(arr)
        self.size += _padded(arr.nbytes)
        return offset

    def chunks(self, header: bytes) -> list[bytes | memoryview]:
        pad = -(4 + len(header)) % 8
        out: list[bytes | memoryview] = [struct.pack("<I", len(header) + pad) + header + b" " * pad]
        for arr in self.arrays:
            out.append(memoryview(arr).cast("B"))
            if arr.nbytes % 8:
                out.append(bytes(-arr.nbytes % 8))
        return out


def _padded(n: int) -> int:
    return n + (-n % 8)


def encode_array(arr: np.ndarray, encoding: str = "base64", frame: Frame | None = None,
                 whole: bool = False) -> EncodedArray:
    """whole=True: one min and one max for the whole array, for matrices whose first axis is not channels
    (an (H·W, C) matrix would otherwise carry H·W minima and maxima: 60 MB of JSON on a 1024×768 photo)."""
    arr = np.ascontiguousarray(arr, dtype="<f4")
    lo, hi = ([float(arr.min())], [float(arr.max())]) if whole and arr.size else _channel_stats(arr)
    if encoding == "binary":
        if frame is None:
            raise ValueError("the binary encoding needs the Frame the array travels in")
        return EncodedArray(shape=list(arr.shape), encoding="binary", data=None, offset=frame.add(arr),
                            nbytes=arr.nbytes, channel_min=lo, channel_max=hi)
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


def decode_frame(body: bytes) -> dict:
    """A binary frame → its JSON, with each array's ``data`` the NumPy array (a read-only view of body)."""
    (n,) = struct.unpack_from("<I", body)
    header, base = json.loads(body[4:4 + n]), 4 + n

    def attach(value):
        if isinstance(value, dict):
            if value.get("encoding") == "binary" and "nbytes" in value:
                data = np.frombuffer(body, dtype="<f4", count=value["nbytes"] // 4, offset=base + value["offset"])
                return {**value, "data": data.reshape(value["shape"])}
            return {k: attach(v) for k, v in value.items()}
        if isinstance(value, list):
            return [attach(v) for v in value]
        return value
    return attach(header)


def decode_array(payload: dict) -> np.ndarray:
    """Inverse of encode_array, for the Python client and the tests."""
    if payload["encoding"] == "binary":
        return payload["data"]
    if payload["encoding"] == "base64":
        return np.frombuffer(base64.b64decode(payload["data"]), dtype="<f4").reshape(payload["shape"])
    return np.asarray(payload["data"], dtype=np.float32).reshape(payload["shape"])


def npy_chunks(arr: np.ndarray) -> list[bytes | memoryview]:
    """An .npy file as [header, the array's own memory]: nothing is copied (np.save into a BytesIO
    copied 16 MB twice and cost ~20 ms on a 512² 16-channel output)."""
    arr = np.ascontiguousarray(arr, dtype="<f4")
    head = io.BytesIO()
    np.lib.format.write_array_header_1_0(head, np.lib.format.header_data_from_array_1_0(arr))
    return [head.getvalue(), memoryview(arr).cast("B")]


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
