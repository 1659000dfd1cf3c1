"""The engine's own worker threads: NumPy's copies and ufuncs release the GIL, so independent pieces of
one layer (groups, blocks of channels) can run on several cores while BLAS runs each product."""
from __future__ import annotations

import functools
from concurrent.futures import ThreadPoolExecutor


def share(run, n: int, parts: int) -> None:
    """run(a, b) over [0, n) in `parts` contiguous pieces, on the engine's threads."""
    if parts <= 1:
        run(0, n)
        return
    cuts = [n * i // parts for i in range(parts + 1)]
    for future in [pool(parts).submit(run, a, b) for a, b in zip(cuts, cuts[1:])]:
        future.result()  # re-raises a worker's error here


@functools.lru_cache(maxsize=4)
def pool(workers: int) -> ThreadPoolExecutor:
    return ThreadPoolExecutor(max_workers=workers, thread_name_prefix="convlens-engine")
