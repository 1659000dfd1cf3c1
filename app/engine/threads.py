"""The engine's own worker threads: NumPy's copies, ufuncs and matmuls release the GIL, so independent
pieces of one layer (bands of output rows, groups, blocks of channels) run on several cores.

Why the engine shares out the work itself, with each product on one BLAS thread: OpenBLAS splits every
product statically between its threads and then waits for all of them, so on a machine shared with other
processes, a product waits whenever its second thread is not scheduled. Measured here at load average
5-12 on 2 cores: a (16×144)·(144×50176) product took 24.5 ms (up to 100 ms) with two BLAS threads,
against 2.8 ms for 16 bands pulled by two engine threads, each band one single-threaded product
(1.5 ms either way on the quiet machine). Here a thread that is not scheduled only delays the band it
holds: the caller pulls the rest.
"""
from __future__ import annotations

import functools
import itertools
import threading
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from typing import Callable, Iterator


def share(run: Callable[[int, int], None], n: int, parts: int, pieces: int = 0) -> None:
    """run(a, b) over [0, n) in contiguous pieces (``pieces``, at least ``parts``), pulled by up to
    ``parts`` threads as they come free; the calling thread is one of them."""
    pieces = max(min(n, max(pieces, parts)), 1)
    if parts <= 1 or pieces <= 1:
        for a, b in _cuts(n, pieces):
            run(a, b)
        return
    cuts = _cuts(n, pieces)
    taken = itertools.count()  # next() on a count is atomic under the GIL

    def worker() -> None:
        while (i := next(taken)) < len(cuts):
            run(*cuts[i])
    futures = [pool(parts - 1).submit(worker) for _ in range(min(parts, pieces) - 1)]
    try:
        worker()
    finally:
        for future in futures:  # one still queued (the pool busy with another layer) is not waited for
            if not future.cancel():
                future.result()  # re-raises a worker's error here


def share_rows(run: Callable[[int, int], None], n: int, step: int, parts: int) -> None:
    """run(r0, r1) over [0, n) in bands of ``step`` rows (the last one shorter), pulled as share does."""
    bands = -(-n // max(1, step))
    share(lambda a, b: run(a * step, min(n, b * step)), bands, parts, bands)


def band_step(rows: int, n: int, parts: int) -> int:
    """Band height for n rows: ``rows`` (what the cache and the products want), cut so that ``parts``
    threads get at least two bands each to pull (one the machine does not schedule then holds up little)."""
    return max(1, min(rows, n, -(-n // (2 * parts)) if parts > 1 else n))


def _cuts(n: int, pieces: int) -> list[tuple[int, int]]:
    edges = [n * i // pieces for i in range(pieces + 1)]
    return [(a, b) for a, b in zip(edges, edges[1:]) if b > a]


@functools.lru_cache(maxsize=4)
def pool(workers: int) -> ThreadPoolExecutor:
    return ThreadPoolExecutor(max_workers=workers, thread_name_prefix="convlens-engine")


@functools.lru_cache(maxsize=1)
def _blas() -> tuple:
    """(get, set) of each loaded BLAS library's thread count, found once. OpenBLAS's own functions are
    called directly: threadpoolctl's set_num_threads does nothing unless called from the one thread
    that first set a limit (the server's main thread), and layers run in request threads."""
    try:
        from threadpoolctl import ThreadpoolController
        libs = ThreadpoolController().select(user_api="blas").lib_controllers
    except Exception:  # no threadpoolctl, or a BLAS it cannot drive: leave BLAS as it is
        return ()
    found = []
    for c in libs:
        get = set_ = None
        if getattr(c, "internal_api", "") == "openblas" and getattr(c, "threading_layer", "") != "openmp":
            try:
                get, set_ = c._get_symbol("openblas_get_num_threads"), c._get_symbol("openblas_set_num_threads")
            except Exception:
                get = set_ = None
        found.append((get or c.get_num_threads, set_ or c.set_num_threads))
    return tuple(found)


_lock = threading.Lock()
_pinned = 0  # how many engine calls are running with BLAS pinned to one thread
_saved: list[int] = []  # each library's thread count before the first of them pinned it


def blas_threads() -> int:
    """How many threads BLAS was given (Settings.compute_threads in the server, threadpool_limits in a
    benchmark), also while the engine has it pinned to one: the cores a layer may use."""
    with _lock:
        if _pinned:
            return max(_saved, default=1)
        return max((get() or 1 for get, _ in _blas()), default=1)


@contextmanager
def single_blas() -> Iterator[None]:
    """BLAS on one thread while the engine shares out a layer itself (see the module doc). Process-wide:
    the first of concurrent calls saves the setting, the last restores it; results never depend on it
    (OpenBLAS splits a product by rows and columns, never along the sum)."""
    global _pinned, _saved
    with _lock:
        if _pinned == 0:
            _saved = [get() or 1 for get, _ in _blas()]
            for _, set_ in _blas():
                set_(1)
        _pinned += 1
    try:
        yield
    finally:
        with _lock:
            _pinned -= 1
            if _pinned == 0:
                for (_, set_), n in zip(_blas(), _saved):
                    set_(n)
