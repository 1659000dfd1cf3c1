"""Float32 buffers used again instead of freshly allocated: the engine's temporaries, and the outputs of
a graph run's layers, made from the memory of tensors the run no longer reads.

Why: a fresh array of a megabyte or more comes from the kernel as new pages, and each page faults once
when first written. Measured at 224²: the stem 3×3 3→8 convolution spent 0.75–1.4 ms per call of its
1.1–2.0 ms CPU time in the kernel, on ~700–1000 page faults (its padded input, its bands' copies and its
1.6 MB output, all new every call). Memory handed back here is kept (at most ``max_kept_bytes()``, all
threads together: 64 MiB unless the app sets CONVLENS_ENGINE_BUFFER_BYTES through ``keep_at_most``) and handed out again to the next request for an array no larger than twice the need.

``give`` takes an array only when nothing else reads it: the caller promises that (a lowering giving
back its own temporary; the graph's run giving back a tensor no later node, kept tensor, view or caller
reads, see app.engine.graph). Each buffer is in the free list at most once.
"""
from __future__ import annotations

import math
import threading
from contextlib import contextmanager
from typing import Iterator

import numpy as np

DEFAULT_KEPT_BYTES = 64 * 2**20
_limit = DEFAULT_KEPT_BYTES
_lock = threading.Lock()
_free: dict[int, np.ndarray] = {}  # id(root) -> the root, 1-D float32, owning its memory
_kept = 0


def take(shape: tuple[int, ...]) -> np.ndarray:
    """An uninitialised float32 array of this shape: a kept buffer if one fits, else a new one."""
    global _kept
    n = math.prod(shape)
    with _lock:
        fits = [(b.size, key) for key, b in _free.items() if n <= b.size <= 2 * n + 1024]
        if fits:
            b = _free.pop(min(fits)[1])
            _kept -= b.nbytes
            return b[:n].reshape(shape)
    return np.empty(shape, dtype=np.float32)


def give(a: np.ndarray) -> None:
    """Keep the memory of ``a`` (which nothing reads any more) for a later ``take``."""
    global _kept
    root = a if a.base is None else a.base
    if (not isinstance(root, np.ndarray) or root.dtype != np.float32 or not root.flags.owndata
            or not root.flags.c_contiguous or not root.flags.writeable or root.nbytes < 4096):
        return
    flat = root.reshape(-1)  # a view of root: what take() slices
    with _lock:
        if id(root) in _free or _kept + root.nbytes > _limit:
            return
        _free[id(root)] = root if root.ndim == 1 else flat
        _kept += root.nbytes


@contextmanager
def scratch(*shapes: tuple[int, ...]) -> Iterator[list[np.ndarray]]:
    """Temporaries for the duration of a block, given back at its end."""
    arrays = [take(s) for s in shapes]
    try:
        yield arrays
    finally:
        for a in arrays:
            give(a)


def keep_at_most(limit_bytes: int) -> None:
    """How much memory the free list may hold per process (0: none, every temporary is new). Buffers
    already kept beyond a lower limit are let go."""
    global _limit, _kept
    with _lock:
        _limit = max(0, int(limit_bytes))
        while _free and _kept > _limit:
            _kept -= _free.pop(next(iter(_free))).nbytes


def max_kept_bytes() -> int:
    return _limit


def clear() -> None:
    global _kept
    with _lock:
        _free.clear()
        _kept = 0
