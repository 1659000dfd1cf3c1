"""The roofline /network draws: this process's GEMM peak and memory bandwidth, measured once (bounded),
and each layer's measured speed and bound as the run returns them."""
from __future__ import annotations

import itertools

import pytest

from app.engine import roofline as rl
from app.engine.roofline import Roofline, machine_roofline


def test_attainable_speed_is_the_lower_roof_and_the_ridge_splits_the_bounds():
    r = Roofline(peak_macs_per_s=100e9, gemm_threads=2, bandwidth_bytes_per_s=20e9, gemm_n=256, copy_bytes=8 << 20)
    assert r.ridge_macs_per_byte == 100e9 / 20e9 == 5
    assert r.attainable_macs_per_s(0.5) == 20e9 * 0.5  # under the ridge: bandwidth · intensity
    assert r.attainable_macs_per_s(50) == 100e9        # over it: the peak
    assert r.bound(4.99) == "memory" and r.bound(5) == "compute" and r.bound(0) is None


def test_best_of_runs_takes_the_fastest_and_stops_at_its_budget(monkeypatch):
    """A fake clock: each run takes 30, 10, 20, … ms; the warm-up's 30 ms is not a candidate but is spent.
    With a 45 ms budget and at least 2 timed runs, the loop stops after the run that crosses it
    (30 + 10 + 20 = 60) instead of doing all 16; with at least 4 it does 4 whatever the budget says."""
    now = [0.0]
    calls = []

    def clock(durations):
        it = itertools.cycle(durations)

        def run():
            calls.append(1)
            now[0] += next(it)
        return run

    monkeypatch.setattr(rl.time, "perf_counter", lambda: now[0])
    best = rl._best_seconds(clock([0.030, 0.010, 0.020]), repeats=16, budget_s=0.045, min_runs=2)
    assert best == pytest.approx(0.010) and len(calls) == 1 + 2
    calls.clear()
    # a stalled warm-up (500 ms) and a stalled first run: the minimum still finds the clean runs after them
    best = rl._best_seconds(clock([0.5, 0.5, 0.001, 0.001, 0.001]), repeats=16, budget_s=0.045, min_runs=4)
    assert best == pytest.approx(0.001) and len(calls) == 1 + 4


def test_the_measurement_is_made_once_per_process():
    a, b = machine_roofline(), machine_roofline()
    assert a is b and a.peak_macs_per_s > 0 and a.bandwidth_bytes_per_s > 0


def test_a_run_returns_the_processes_roofline_and_each_layers_speed_and_bound(client):
    run = client.post("/api/models/digits/run", json={"input": {"kind": "test_image", "index": 1}}).json()
    detail = client.get("/api/models/digits").json()
    roof, mine = run["roofline"], machine_roofline()  # the TestClient's app runs in this process
    assert roof["peak_macs_per_s"] == mine.peak_macs_per_s and roof["bandwidth_bytes_per_s"] == mine.bandwidth_bytes_per_s
    assert roof["ridge_macs_per_byte"] == pytest.approx(roof["peak_macs_per_s"] / roof["bandwidth_bytes_per_s"])
    for layer, row in zip(run["layers"], detail["layers"]):
        assert layer["macs"] == row["macs"] and layer["macs_per_byte"] == pytest.approx(row["macs_per_byte"])
        if row["macs"] == 0:
            assert layer["bound"] is None and layer["macs_per_s"] is None
            continue
        assert layer["macs_per_s"] == pytest.approx(row["macs"] / (layer["time_ms"] / 1e3))
        assert layer["bound"] == ("memory" if row["macs_per_byte"] < roof["ridge_macs_per_byte"] else "compute")


def test_the_one_thread_gemm_runs_on_one_blas_thread_from_a_request_thread(monkeypatch):
    """The server measures the roofline in a request thread, where threadpoolctl's limits silently do
    nothing; the first best-of (the GEMM on one thread) must see BLAS on one thread all the same."""
    import threading

    from threadpoolctl import threadpool_limits

    from app.engine.threads import _blas
    seen = []

    def record(fn, repeats, **_):
        seen.append(max(get() for get, _ in _blas()))
        return 1.0

    monkeypatch.setattr(rl, "_best_seconds", record)
    with threadpool_limits(limits=2, user_api="blas"):  # as main.py sets it, on this (the main) thread
        t = threading.Thread(target=rl.measure_roofline, kwargs={"gemm_n": 8, "copy_bytes": 64})
        t.start()
        t.join()
    assert seen[0] == 1 and seen[1] == 2, seen
