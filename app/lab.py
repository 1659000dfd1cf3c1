"""The cost lab's services: designs counted, timed and compared, and the papers' architectures.

Each router in app/api/cost.py calls one function here. Every limit is checked before anything of a
design's size is allocated: its size on the raw JSON (check_design_size), then its shapes, per-layer
limits, the MACs of every run and an upper bound on the memory a measurement needs (check_measurable).
"""
from __future__ import annotations

from app.compute import engine_slot
from app.designs import ARCHITECTURES, COMPARISONS, MOBILENET_TABLE2, architecture
from app.engine.cost import BYTES_PER_VALUE
from app.engine.design import Conv, DesignCost, DesignRow
from app.engine.lower_design import Lowered, design_cost, lower, lowered_cost
from app.errors import NotFound, check_limit
from app.inputs.limits import check_input_dims, check_input_shape
from app.measure import Timed, measure_many, spread
from app.schemas_cost import (ArchitectureResponse, CompareRequest, CompareResponse, Comparison, CostRequest,
                              CostResponse, DesignResult, DesignSpec, MeasuredLayer, MeasureRequest, MeasureResponse,
                              PaperRow, Row, SpeedupSpread, from_layer, to_layers)
from app.settings import Settings
from app.torch_code import torch_source

MIN_TRUSTED_PAIRS = 3
MAX_TRUSTED_IQR = 0.20  # of the median speed-up


def check_design_size(body, s: Settings) -> None:
    """Layers and branches of each design (every branch counted) and their nesting, on the parsed JSON
    before validation walks it: list lengths are summed before their items are looked at, so a branch
    of 190,000 layers is refused without visiting them. Anything malformed is left to the schema."""
    if not isinstance(body, dict):
        return
    designs = body.get("designs", [body.get("design")])
    for i, design in enumerate(designs if isinstance(designs, list) else []):
        layers = design.get("layers") if isinstance(design, dict) else None
        if isinstance(layers, list):
            _check_layers(layers, i, s)


def _check_layers(layers: list, i: int, s: Settings) -> None:
    count, stack = 0, [(layers, 0)]
    while stack:
        items, depth = stack.pop()
        check_limit(f"branch nesting of design {i}", depth, s.max_design_depth, "max_design_depth")
        count += len(items)
        check_limit(f"layers and branches of design {i}", count, s.max_design_layers, "max_design_layers")
        for item in items:
            branches = item.get("branches") if isinstance(item, dict) else None
            if isinstance(branches, list):
                count += len(branches)
                check_limit(f"layers and branches of design {i}", count, s.max_design_layers, "max_design_layers")
                stack += [(b, depth + 1) for b in branches if isinstance(b, list)]


def _convolve_request(r: DesignRow) -> dict | None:
    """The request that shows a conv row on /conv (or /pointwise for a plain 1×1): its input shape filled
    with seeded random values, its own kernel, stride, padding and groups."""
    leaf = r.layer
    if not isinstance(leaf, Conv):
        return None
    listed = lambda v: list(v) if isinstance(v, tuple) else v  # noqa: E731
    return {"input": {"kind": "random", "shape": list(r.in_shape), "seed": 0, "distribution": "normal"},
            "layer": {"out_channels": leaf.out, "kernel_size": listed(leaf.k), "stride": listed(leaf.stride),
                      "padding": listed(leaf.padding), "groups": r.in_shape[0] if leaf.groups == 0 else leaf.groups,
                      "bias": leaf.bias},
            "weights": {"kind": "random", "seed": 0}}


def _row(r: DesignRow, link: bool = True) -> Row:
    return Row(name=r.name, kind=r.kind, in_shape=list(r.in_shape), out_shape=list(r.out_shape), params=r.params,
               macs=r.macs, flops=r.flops, activation_bytes=r.activation_bytes,
               arithmetic_intensity=r.arithmetic_intensity, formula=r.formula, torch=r.torch, depth=r.depth,
               branch=r.branch, top=r.top, convolve=_convolve_request(r) if link else None)


def _result(name: str, lowered: Lowered) -> DesignResult:
    c = lowered_cost(lowered)
    return DesignResult(name=name, out_shape=list(c.out_shape), params=c.params, macs=c.macs, flops=c.flops,
                        activation_bytes=c.activation_bytes, by_kind=c.by_kind,
                        rows=[_row(r) for r in c.rows],
                        torch_code=torch_source(name, lowered))


def count(req: CostRequest, s: Settings) -> CostResponse:
    shape = tuple(req.input_shape)
    check_input_dims(shape, s)  # only counted: nothing of this shape is allocated
    results = []
    for d in req.designs:
        results.append(_result(d.name, lower(to_layers(d), shape)))
    return CostResponse(input_shape=list(shape), designs=results,
                        params_ratio=[results[0].params / r.params if r.params else 0.0 for r in results],
                        macs_ratio=[results[0].macs / r.macs if r.macs else 0.0 for r in results])


def comparisons() -> list[Comparison]:
    return [Comparison(name=c.name, title=c.title, description=c.description, input_shape=list(c.input_shape),
                       designs=[{"name": n, "layers": [from_layer(layer) for layer in layers]} for n, layers in c.designs])
            for c in COMPARISONS.values()]


def _volume(shape) -> int:
    return shape[0] * shape[1] * shape[2]


def _check_leaf(row: DesignRow, s: Settings) -> None:
    """The per-layer limits /api/convolve applies, on shapes alone."""
    if row.kernel is not None:
        check_limit(f"kernel size of '{row.name}'", max(row.kernel), s.max_kernel, "max_kernel")
    check_limit(f"weight count of '{row.name}'", row.params, s.max_weight_count, "max_weight_count")
    check_limit(f"output elements of '{row.name}'", _volume(row.out_shape), s.max_output_elements, "max_output_elements")
    check_limit(f"MACs of '{row.name}'", row.macs, s.max_macs, "max_macs")


def _leaf_temp_bytes(row: DesignRow, s: Settings) -> int:
    """What one leaf allocates besides its output: weights drawn in float64 then cast, a padded copy of
    its input (conv, pool), and a convolution's band (chunk_bytes per thread, or one output row's windows
    if larger)."""
    band = max(s.im2col_chunk_bytes * s.compute_threads, row.window_row_elements * BYTES_PER_VALUE) \
        if row.window_row_elements else 0
    return (2 * row.params + row.padded_elements) * BYTES_PER_VALUE + band


def memory_bound(costs: list[DesignCost], shape, s: Settings) -> int:
    """An upper bound on the bytes a measurement holds at once: the input, every design's weights and
    every activation (more than are ever alive together), and the largest leaf's temporaries."""
    total = _volume(shape) * BYTES_PER_VALUE
    temp = 0
    for c in costs:
        total += c.params * BYTES_PER_VALUE + c.activation_bytes
        for row in c.rows:
            temp = max(temp, _leaf_temp_bytes(row, s))
    return total + temp


def check_measurable(designs: list, shape, runs: int, s: Settings) -> list[DesignCost]:
    check_input_shape(shape, s)  # the measurement allocates a random input of this shape
    costs = [design_cost(layers, shape) for layers in designs]
    for c in costs:
        for row in c.rows:
            _check_leaf(row, s)
    check_limit("MACs × (warm-up + repeats)", sum(c.macs for c in costs) * runs, s.max_measure_macs,
                "max_measure_macs")
    check_limit("estimated memory of the measurement (bytes)", memory_bound(costs, shape, s),
                s.max_measure_bytes, "max_measure_bytes")
    return costs


def _measured(name: str, c: DesignCost, t: Timed) -> MeasureResponse:
    layers = []
    for row, times in zip(c.rows, t.leaf_ms):  # both list the leaf layers depth-first, in order
        ms = spread(times)
        layers.append(MeasuredLayer(name=row.name, kind=row.kind, median_ms=ms and ms.median, macs=row.macs,
                                    gmacs_per_s=row.macs / ms.median / 1e6 if ms and ms.median else None,
                                    arithmetic_intensity=row.arithmetic_intensity))
    total = spread(t.total_ms)
    return MeasureResponse(name=name, median_ms=total and total.median, q1_ms=total and total.q1,
                           q3_ms=total and total.q3, times_ms=t.total_ms, runs=t.runs, truncated=t.truncated,
                           macs=c.macs, layers=layers)


def _time(specs: list[DesignSpec], shape, seed: int, repeats: int, warmup: int, s: Settings
          ) -> list[MeasureResponse]:
    designs = [to_layers(d) for d in specs]
    costs = check_measurable(designs, shape, warmup + repeats, s)
    with engine_slot(sum(c.macs for c in costs) * (warmup + repeats), s):  # admission by cost (issue 14)
        timed = measure_many(designs, shape, seed, repeats, warmup, s.measure_budget_s, s.compute_threads,
                             s.im2col_chunk_bytes)
    return [_measured(d.name, c, t) for d, c, t in zip(specs, costs, timed)]


def measure_one(req: MeasureRequest, s: Settings) -> MeasureResponse:
    return _time([req.design], tuple(req.input_shape), req.seed, req.repeats, req.warmup, s)[0]


def compare(req: CompareRequest, s: Settings) -> CompareResponse:
    a, b = _time(req.designs, tuple(req.input_shape), req.seed, req.repeats, req.warmup, s)
    ratios = [x / y for x, y in zip(a.times_ms, b.times_ms) if y > 0]
    r = spread(ratios)
    speedup = r and SpeedupSpread(median=r.median, q1=r.q1, q3=r.q3,
                                  iqr_pct=100 * r.iqr / r.median if r.median else 0.0)
    trusted, verdict = _verdict(speedup, len(ratios), a.truncated)
    return CompareResponse(designs=[a, b], pairs=len(ratios), ratios=ratios, speedup=speedup, trusted=trusted,
                           verdict=verdict, truncated=a.truncated)


def _verdict(sp: SpeedupSpread | None, pairs: int, truncated: bool) -> tuple[bool, str]:
    cut = " (the time budget cut the run short)" if truncated else ""
    if sp is None:
        return False, f"no A/B pair completed within the time budget{cut}: use a smaller input"
    if pairs < MIN_TRUSTED_PAIRS:
        return False, f"only {pairs} A/B pair{'s' if pairs != 1 else ''}{cut}: too few to trust; " \
                      f"at least {MIN_TRUSTED_PAIRS} are needed"
    if sp.iqr_pct > 100 * MAX_TRUSTED_IQR:
        return False, f"too noisy to trust: the middle half of the {pairs} pairs spans {sp.iqr_pct:.0f} % of the " \
                      f"median (over {100 * MAX_TRUSTED_IQR:.0f} %); the machine is busy, measure again"
    return True, f"{pairs} A/B pairs, the middle half within {sp.iqr_pct:.0f} % of the median{cut}"


def architecture_table(name: str, alpha: float, resolution: int) -> ArchitectureResponse:
    """Per-row params and MACs beside the paper's printed values, totals, and the breakdown by layer type."""
    if name not in ARCHITECTURES:
        raise NotFound(f"unknown architecture '{name[:40]}'; known: {', '.join(ARCHITECTURES)}")
    a = architecture(name, alpha, resolution)
    c = design_cost(a.layers, a.input_shape)
    rows = []
    for top, row_name in enumerate(a.row_names):
        mine = [r for r in c.rows if r.top == top]
        pp, pm = a.printed_params.get(top), a.printed_macs.get(top)
        rows.append(PaperRow(name=row_name, out_shape=list(c.top_shapes[top]),
                             params=sum(r.params for r in mine), macs=sum(r.macs for r in mine),
                             printed_params=pp and pp.text, printed_params_value=pp and pp.value,
                             printed_macs=pm and pm.text, printed_macs_value=pm and pm.value,
                             note=(pp and pp.note) or (pm and pm.note) or ""))
    by_kind = [{"kind": k, "params": v["params"], "macs": v["macs"],
                "params_pct": 100 * v["params"] / c.params if c.params else 0.0,
                "macs_pct": 100 * v["macs"] / c.macs if c.macs else 0.0} for k, v in c.by_kind.items()]
    return ArchitectureResponse(
        name=a.name, title=a.title, input_shape=list(a.input_shape), params=c.params, macs=c.macs, flops=c.flops,
        rows=rows, by_kind=by_kind,
        printed_totals={k: {"text": p.text, "value": p.value, "source": p.source, "note": p.note}
                        for k, p in a.printed_totals.items()},
        # Table 2 is printed for 1.0 MobileNet-224 only
        paper_by_kind={k: list(v) for k, v in MOBILENET_TABLE2.items()}
        if name == "mobilenet" and alpha == 1.0 and resolution == 224 else None,
        notes=list(a.notes), layers=[_row(r, link=False) for r in c.rows])
