"""The cost of a JSON body, measured before it is parsed.

``json.loads`` of a 30 MB object with 2.9 M keys held a worker for seconds and grew it by gigabytes;
pydantic's limits only apply after that. This scan counts what parsing would build (nesting depth,
object keys, array elements + object values) with NumPy in 1 MB bands: a byte is inside a string
when an odd number of unescaped quotes precede it (strings may hold any bracket, colon or comma), and
only the brackets, colons and commas outside strings are counted. The scan allocates a few tens of MB
whatever the body, and takes milliseconds per MB.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

_BAND = 1 << 20  # bytes of body per NumPy pass


@dataclass(frozen=True)
class JsonShape:
    depth: int   # deepest nesting of arrays and objects
    keys: int    # object keys
    values: int  # array elements + object values (an upper bound: commas + containers)


@dataclass(frozen=True)
class JsonLimits:
    depth: int
    keys: int
    values: int


def _escaped_quotes(band: np.ndarray, index: np.ndarray, last_plain: int) -> tuple[np.ndarray, int]:
    """Quotes preceded by an odd run of backslashes (they do not end a string), and the index of the
    band's last non-backslash byte (carried to the next band)."""
    slash = band == 0x5C
    plain_at = np.maximum.accumulate(np.where(slash, -1, index))    # last non-backslash index so far
    plain_at = np.maximum(plain_at, last_plain)
    before = np.empty_like(plain_at)
    before[0], before[1:] = last_plain, plain_at[:-1]
    run = index - 1 - before                                       # backslashes just before each byte
    return (band == 0x22) & (run % 2 == 1), int(plain_at[-1])


def scan(body: bytes) -> JsonShape:
    a = np.frombuffer(body, dtype=np.uint8)
    has_escapes = b"\\" in body
    deepest = level = keys = commas = opens = 0
    in_string, last_plain = False, -1
    for start in range(0, a.size, _BAND):
        band = a[start:start + _BAND]
        quote = band == 0x22
        if has_escapes:
            index = np.arange(start, start + band.size)
            escaped, last_plain = _escaped_quotes(band, index, last_plain)
            quote &= ~escaped
        inside = np.logical_xor.accumulate(quote)                   # True from an opening quote on
        if in_string:
            inside = ~inside
        in_string = bool(inside[-1])
        outside = ~inside
        up = ((band == 0x5B) | (band == 0x7B)) & outside
        down = ((band == 0x5D) | (band == 0x7D)) & outside
        keys += int(np.count_nonzero((band == 0x3A) & outside))
        commas += int(np.count_nonzero((band == 0x2C) & outside))
        opens += int(np.count_nonzero(up))
        step = up.view(np.int8) - down.view(np.int8)
        moves = step[np.flatnonzero(step)]                         # only the brackets
        if moves.size:
            path = np.cumsum(moves, dtype=np.int64) + level
            deepest, level = max(deepest, int(path.max())), int(path[-1])
    return JsonShape(depth=deepest, keys=keys, values=commas + opens)


def check(body: bytes, limits: JsonLimits) -> tuple[str, str] | None:
    """None if the body is within the limits, else (message, limit's environment variable)."""
    # Fast path: the raw byte counts are upper bounds of what the scan would find.
    brackets = body.count(b"[") + body.count(b"{")
    if brackets <= limits.depth and body.count(b":") <= limits.keys and body.count(b",") + brackets <= limits.values:
        return None
    shape = scan(body)
    if shape.depth > limits.depth:
        return (f"the JSON body is nested {shape.depth:,} levels deep; at most {limits.depth:,} are allowed",
                "CONVLENS_MAX_JSON_DEPTH")
    if shape.keys > limits.keys:
        return (f"the JSON body has {shape.keys:,} object keys; at most {limits.keys:,} are allowed",
                "CONVLENS_MAX_JSON_KEYS")
    if shape.values > limits.values:
        return (f"the JSON body has about {shape.values:,} array elements and object values; at most "
                f"{limits.values:,} are allowed", "CONVLENS_MAX_JSON_VALUES")
    return None
