"""The shift-and-accumulate lowerings against torch and the window path, and the per-layer choice:
measured once per shape, cached, bounded, visible."""
from __future__ import annotations

import logging
import threading

import numpy as np
import pytest
from hypothesis import given, settings, strategies as st
from threadpoolctl import threadpool_limits

from app.engine import conv2d, conv_geometry
from app.engine import conv as conv_mod
from app.engine import lowering
from app.engine import threads as threads_mod
from app.engine.conv import _im2col, _run, pad_input
from app.engine.cost import conv_macs
from app.engine.shift import depthwise_block_channels, depthwise_shift, l2_bytes, shift_add
from app.engine.threads import blas_threads, share, single_blas
from test_engine_vs_torch import close, conv_cases, make_tensors, torch_conv


def stride_1(case):
    return {**case, "stride": (1, 1)}


def geometry(case, x, w):
    return conv_geometry(x.shape, w.shape[0], w.shape[2:], case["stride"], case["padding"], case["dilation"],
                         case["groups"])


@st.composite
def depthwise_cases(draw):
    """One input channel per group, any channel multiplier, stride 1."""
    case = stride_1(draw(conv_cases()))
    groups = draw(st.integers(1, 9))
    return {**case, "groups": groups, "c_in": groups, "c_out": groups * draw(st.integers(1, 3))}


@settings(max_examples=150, deadline=None)
@given(depthwise_cases(), st.integers(1, 3))
def test_depthwise_shift_equals_the_window_path_and_torch(case, parts):
    x, w, _ = make_tensors(case)
    geom = geometry(case, x, w)
    ours = depthwise_shift(x, w, geom, parts)
    close(ours, _im2col(pad_input(x, geom), w, geom, case["chunk_bytes"]))
    close(ours, torch_conv(x, w, None, 1, case["padding"], case["dilation"], case["groups"], False))


@settings(max_examples=150, deadline=None)
@given(conv_cases(), st.sampled_from([1, 4096, 2**20]))
def test_shift_add_equals_the_window_path_and_torch(case, band_bytes):
    case = stride_1(case)
    x, w, _ = make_tensors(case)
    geom = geometry(case, x, w)
    ours = shift_add(x, w, geom, band_bytes)
    close(ours, _im2col(pad_input(x, geom), w, geom, case["chunk_bytes"]))
    close(ours, torch_conv(x, w, None, 1, case["padding"], case["dilation"], case["groups"], False))


@settings(max_examples=100, deadline=None)
@given(conv_cases())
def test_every_candidate_lowering_agrees_with_torch(case):
    """Whatever a measurement picks on some machine, the numbers are torch's."""
    x, w, _ = make_tensors(case)
    geom = geometry(case, x, w)
    ref = torch_conv(x, w, None, case["stride"], case["padding"], case["dilation"], case["groups"], False)
    for path in lowering.candidates(geom):
        close(_run(path, x, w, geom, case["chunk_bytes"], 2), ref)


def test_depthwise_blocks_fit_half_the_l2_and_cover_large_layers():
    geom = conv_geometry((64, 112, 112), 64, 3, 1, 1, 1, 64)
    nb = depthwise_block_channels(geom)
    assert 1 <= nb < 64 and nb * 4 * (114 * 114 + 2 * 112 * 114) <= l2_bytes() // 2
    rng = np.random.default_rng(3)
    x = rng.standard_normal((64, 112, 112), dtype=np.float32)
    w = rng.standard_normal((128, 1, 3, 3), dtype=np.float32)  # channel multiplier 2
    g2 = conv_geometry(x.shape, 128, 3, 1, 1, 1, 64)
    close(depthwise_shift(x, w, g2, 2), torch_conv(x, w, None, 1, 1, 1, 64, False))


@pytest.fixture
def fresh_choices():
    lowering.clear()
    yield
    lowering.clear()
    lowering.calibrate = True


def test_a_large_layer_is_measured_once_logged_and_cached(fresh_choices, caplog):
    rng = np.random.default_rng(5)
    x = rng.standard_normal((32, 128, 128), dtype=np.float32)
    w = rng.standard_normal((32, 1, 3, 3), dtype=np.float32)
    geom = conv_geometry(x.shape, 32, 3, 1, 1, 1, 32)
    assert conv_macs(geom) > lowering.SMALL_MACS and len(lowering.candidates(geom)) > 1
    calls = []

    def run(path, xs, w_, g):
        calls.append((path, g.out_height))
        return _run(path, xs, w_, g, 2**20, 1)
    with caplog.at_level(logging.INFO, logger="convlens.engine"):
        first = lowering.choose(geom, 1, x, w, run)
    assert first.path in lowering.candidates(geom) and set(first.trial_ms) == set(lowering.candidates(geom))
    assert len(calls) == lowering.TRIAL_ROUNDS * len(lowering.candidates(geom))
    trial_rows = calls[0][1]  # a slice of the layer, not the layer: bounded work
    per_row = conv_macs(geom) // geom.out_height
    assert trial_rows < geom.out_height and per_row * trial_rows <= max(lowering.TRIAL_MAX_MACS,
                                                                          per_row * lowering.TRIAL_ROWS)
    assert f"lowering {first.path} for 3×3 32→32 @128×128" in caplog.text and "measured on" in caplog.text
    assert lowering.choose(geom, 1, x, w, run) is first and len(calls) == lowering.TRIAL_ROUNDS * 3  # cached
    assert lowering.lowering(geom, 1) is first and lowering.lowering(geom, 2) is None  # per thread count
    close(conv2d(x, w, None, 1, 1, 1, 32, threads=1), torch_conv(x, w, None, 1, 1, 1, 32, False))


def test_small_strided_and_unmeasured_layers_follow_the_rules(fresh_choices):
    never = lambda *a: pytest.fail("a small or single-candidate layer must not be measured")
    x = np.zeros((3, 32, 32), dtype=np.float32)
    small = conv_geometry(x.shape, 4, 3, 1, 1)
    assert lowering.choose(small, 1, x, np.zeros((4, 3, 3, 3), np.float32), never).path == "row_taps"
    big = np.zeros((64, 56, 56), dtype=np.float32)
    strided_dw = conv_geometry(big.shape, 64, 5, 2, 4, 2, 64)  # 64 groups × 5 kernel rows: too many products
    only = lowering.choose(strided_dw, 1, big, np.zeros((64, 1, 5, 5), np.float32), never)
    assert only.path == "windows" and only.reason == "rule: one lowering fits"
    assert lowering.candidates(conv_geometry(big.shape, 64, 5, 2, 4, 2)) == ["windows", "row_taps"]
    lowering.calibrate = False
    dw = conv_geometry(big.shape, 64, 3, 1, 1, 1, 64)
    choice = lowering.choose(dw, 1, big, np.zeros((64, 1, 3, 3), np.float32), never)
    assert choice.path == "depthwise" and choice.reason == "rule: measurement off"


@pytest.mark.parametrize("shape,c_out,k,rows", [
    ((64, 56, 56), 64, 3, -(-1024 // 56)),                # GEMM-bound: 1024 columns, 64·64·9·56·19 = 39 M MACs
    ((256, 28, 28), 256, 4, 2),                           # deep: 2 rows (59 M MACs) is the floor
    ((3, 1024, 1024), 3, 3, 3_000_000 // (3 * 3 * 9 * 1024)),  # thin: TRIAL_MACS of output
])
def test_trial_slices_are_bounded_and_long_enough(shape, c_out, k, rows):
    geom = conv_geometry(shape, c_out, k, 1, "same")
    xs, g = lowering._trial_slice(geom, np.zeros(shape, dtype=np.float32))
    assert g.out_height == rows and g.out_width == geom.out_width and xs.shape[1] <= shape[1]
    assert conv_macs(g) <= max(lowering.TRIAL_MAX_MACS, conv_macs(geom) // geom.out_height * lowering.TRIAL_ROWS)


def test_the_cache_is_bounded(fresh_choices, monkeypatch):
    monkeypatch.setattr(lowering, "CACHE_SIZE", 3)
    x = np.zeros((2, 8, 8), dtype=np.float32)
    for c_out in range(1, 6):
        lowering.choose(conv_geometry(x.shape, c_out, 3, 1, 1), 1, x, None, None)
    assert len(lowering._choices) == 3
    assert lowering.lowering(conv_geometry(x.shape, 1, 3, 1, 1), 1) is None  # the oldest went first


@settings(max_examples=150, deadline=None)
@given(conv_cases())
def test_kernel_rows_by_phase_equal_the_window_path_and_torch_for_any_stride(case):
    """Vertical stride s: kernel row i reads phase (i·d_H mod s) of the input, ⌊i·d_H/s⌋ rows down."""
    x, w, _ = make_tensors(case)
    geom = geometry(case, x, w)
    from app.engine.conv import _row_taps
    ours = _row_taps(pad_input(x, geom), w, geom, case["chunk_bytes"])
    close(ours, _im2col(pad_input(x, geom), w, geom, case["chunk_bytes"]))
    close(ours, torch_conv(x, w, None, case["stride"], case["padding"], case["dilation"], case["groups"], False))


@settings(max_examples=100, deadline=None)
@given(conv_cases(), st.integers(1, 3), st.sampled_from([None, (0.0, None), (-0.5, 0.5), (None, 0.25)]))
def test_every_lowering_shared_among_threads_with_its_bias_agrees_with_torch_and_the_window_path(case, threads,
                                                                                               clip):
    """Bands (or groups, or channel blocks) pulled by several threads, the bias added and the clip (a
    fused ReLU or ReLU6) applied band by band: the same numbers as torch and as the window path on one
    thread, for every candidate and the 1×1 path."""
    x, w, b = make_tensors(case)
    b = np.random.default_rng(1).standard_normal(w.shape[0], dtype=np.float32)
    geom = geometry(case, x, w)
    ref = torch_conv(x, w, b, case["stride"], case["padding"], case["dilation"], case["groups"], False)
    if clip is not None:
        ref = np.clip(ref, -np.inf if clip[0] is None else clip[0], np.inf if clip[1] is None else clip[1])
    window = _im2col(pad_input(x, geom), w, geom, case["chunk_bytes"], 1, b.reshape(geom.groups, -1, 1), clip)
    close(window, ref)
    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(conv_mod, "PARALLEL_MACS", 0)  # share even these small layers
        for path in {*lowering.candidates(geom), lowering.rule_path(geom)}:
            ours = _run(path, x, w, geom, case["chunk_bytes"], threads, b.reshape(geom.groups, -1, 1), clip)
            close(ours, ref)
            close(ours, window)


def test_a_thread_that_is_not_scheduled_holds_up_only_the_piece_it_took():
    """The caller pulls every piece the other thread has not taken (a static split would leave it half)."""
    main = threading.get_ident()
    taken, release, done = threading.Event(), threading.Event(), []

    def run(a, b):
        if threading.get_ident() != main:
            taken.set()
            release.wait(5)  # this thread "is not scheduled" until the caller has done the rest
        elif not taken.is_set():
            taken.wait(5)  # let the other thread take its first piece
        done.append((a, threading.get_ident() == main))
        if sum(m for _, m in done) == 7:
            release.set()
    share(run, 8, 2, 8)
    assert sorted(a for a, _ in done) == list(range(8))
    assert sum(m for _, m in done) == 7


def test_blas_runs_on_one_thread_inside_the_engine_and_gets_its_threads_back():
    """Also from a thread that is not the one that set the limit (the server's layers run in request
    threads; threadpoolctl's own setter ignores those)."""
    libs = threads_mod._blas()
    assert libs, "threadpoolctl finds no BLAS library to drive (numpy here is built with OpenBLAS)"
    counts = lambda: [get() for get, _ in libs]  # noqa: E731
    with threadpool_limits(2, user_api="blas"):
        assert blas_threads() == 2
        seen = []

        def layer() -> None:
            with single_blas():
                with single_blas():  # nested or concurrent calls: the last one out restores
                    seen.append(counts())
                seen.append(counts())
                seen.append(blas_threads())  # the cores a layer may use, not the pinned 1
        worker = threading.Thread(target=layer)
        worker.start()
        worker.join()
        assert seen == [[1] * len(libs), [1] * len(libs), 2]
        assert counts() == [2] * len(libs)
        x = np.random.default_rng(0).standard_normal((8, 40, 40), dtype=np.float32)
        w = np.random.default_rng(1).standard_normal((8, 8, 3, 3), dtype=np.float32)
        close(conv2d(x, w, None, 1, 1, threads=None), torch_conv(x, w, None, 1, 1, 1, 1, False))
        assert counts() == [2] * len(libs)


def test_a_trial_counts_the_cpu_time_it_takes_not_the_time_the_machine_keeps_it_waiting(fresh_choices):
    """Candidate "runs" waits 30 ms without computing (as a thread the machine does not schedule does);
    "row_taps" computes for longer than its CPU time slice of that: the trial picks "runs"."""
    rng = np.random.default_rng(6)
    x = rng.standard_normal((16, 96, 96), dtype=np.float32)
    w = rng.standard_normal((16, 16, 3, 3), dtype=np.float32)
    geom = conv_geometry(x.shape, 16, 3, 1, 1, 1, 1)
    assert lowering.candidates(geom) == ["row_taps", "runs"] and conv_macs(geom) > lowering.SMALL_MACS

    def run(path, xs, w_, g):
        if path == "runs":
            threading.Event().wait(0.03)
        else:
            t0 = lowering.clock()
            while lowering.clock() - t0 < 0.005:  # 5 ms of computing
                pass
    choice = lowering.choose(geom, 2, x, w, run)
    assert choice.path == "runs" and choice.trial_ms["runs"] < 5 <= choice.trial_ms["row_taps"]
    assert "CPU time" in choice.reason


def test_trials_run_on_one_thread(fresh_choices, monkeypatch):
    seen = []
    run = conv_mod._run
    monkeypatch.setattr(conv_mod, "_run", lambda *a: seen.append(a[5]) or run(*a))
    rng = np.random.default_rng(7)
    x = rng.standard_normal((16, 96, 96), dtype=np.float32)
    w = rng.standard_normal((16, 16, 3, 3), dtype=np.float32)
    close(conv2d(x, w, None, 1, 1, threads=2), torch_conv(x, w, None, 1, 1, 1, 1, False))
    chosen = lowering.lowering(conv_geometry(x.shape, 16, 3, 1, 1), 2).path
    # the trials, then the layer on its 2 threads, or in one call whose products BLAS threads itself (the
    # trial's winner here depends on the machine's load: "runs" won it under load, "row_taps" when idle)
    assert seen[:-1] == [1] * (len(seen) - 1) and seen[-1] == (1 if chosen in conv_mod.BLAS_PATHS else 2), chosen
