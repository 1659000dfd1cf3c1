"""The cost lab's API: designs counted (/api/cost), timed (/api/measure), and real architectures."""
from __future__ import annotations

from typing import Annotated, Optional

from fastapi import APIRouter, Depends, Query
from pydantic import BaseModel, Field, StrictInt

from app.api.deps import settings_of
from app.designs import ARCHITECTURES, COMPARISONS, MOBILENET_TABLE2, architecture
from app.engine.design import DesignCost, LayerCost, design_cost
from app.errors import NotFound, check_limit
from app.inputs.limits import check_input_dims, check_input_shape
from app.measure import measure, median
from app.schemas import ERROR_RESPONSES, Pos, Strict
from app.schemas_cost import DesignSpec, from_layer, to_layers
from app.settings import Settings

router = APIRouter(prefix="/api", tags=["cost lab"], responses=ERROR_RESPONSES)
Shape = Annotated[list[Pos], Field(min_length=3, max_length=3, description="[C, H, W]")]


class Row(BaseModel):
    name: str
    kind: str
    in_shape: list[int]
    out_shape: list[int]
    params: int
    macs: int
    flops: int
    activation_bytes: int
    arithmetic_intensity: float = Field(description="MACs per byte of input, weights and output moved once")
    formula: str
    torch: str
    depth: int
    branch: Optional[int]
    top: int


class DesignResult(BaseModel):
    name: str
    out_shape: list[int]
    params: int
    macs: int
    flops: int
    activation_bytes: int
    by_kind: dict[str, dict[str, int]]
    rows: list[Row]


def _row(r: LayerCost) -> Row:
    return Row(name=r.name, kind=r.kind, in_shape=list(r.in_shape), out_shape=list(r.out_shape), params=r.params,
               macs=r.macs, flops=r.flops, activation_bytes=r.activation_bytes,
               arithmetic_intensity=r.arithmetic_intensity, formula=r.formula, torch=r.torch, depth=r.depth,
               branch=r.branch, top=r.top)


def _result(name: str, c: DesignCost) -> DesignResult:
    return DesignResult(name=name, out_shape=list(c.out_shape), params=c.params, macs=c.macs, flops=c.flops,
                        activation_bytes=c.activation_bytes, by_kind=c.by_kind, rows=[_row(r) for r in c.rows])


class CostRequest(Strict):
    input_shape: Shape = [256, 28, 28]
    designs: Annotated[list[DesignSpec], Field(min_length=1, max_length=4)]


class CostResponse(BaseModel):
    input_shape: list[int]
    designs: list[DesignResult]
    params_ratio: list[float] = Field(description="design 0's params ÷ each design's")
    macs_ratio: list[float] = Field(description="design 0's MACs ÷ each design's")


@router.post("/cost", response_model=CostResponse, summary="Count params, MACs and bytes of designs")
def cost(req: CostRequest, s: Settings = Depends(settings_of)):
    shape = tuple(req.input_shape)
    check_input_dims(shape, s)  # only counted: nothing of this shape is allocated
    results = [_result(d.name, design_cost(to_layers(d), shape)) for d in req.designs]
    return CostResponse(input_shape=list(shape), designs=results,
                        params_ratio=[results[0].params / r.params if r.params else 0.0 for r in results],
                        macs_ratio=[results[0].macs / r.macs if r.macs else 0.0 for r in results])


class Comparison(BaseModel):
    name: str
    title: str
    description: str
    input_shape: list[int]
    designs: list[dict]


@router.get("/comparisons", response_model=list[Comparison], summary="Preset design pairs")
def comparisons():
    return [Comparison(name=c.name, title=c.title, description=c.description, input_shape=list(c.input_shape),
                       designs=[{"name": n, "layers": [from_layer(layer) for layer in layers]} for n, layers in c.designs])
            for c in COMPARISONS.values()]


class MeasureRequest(Strict):
    input_shape: Shape = [256, 28, 28]
    design: DesignSpec
    repeats: Annotated[StrictInt, Field(ge=1, le=50)] = 5
    warmup: Annotated[StrictInt, Field(ge=0, le=5)] = 1
    seed: Annotated[StrictInt, Field(ge=0, le=2**31 - 1)] = 0


class MeasuredLayer(BaseModel):
    name: str
    kind: str
    median_ms: float
    macs: int
    gmacs_per_s: float
    arithmetic_intensity: float


class MeasureResponse(BaseModel):
    name: str
    median_ms: float
    runs: int
    truncated: bool = Field(description="true when the time budget stopped the repeats early")
    macs: int
    layers: list[MeasuredLayer]


@router.post("/measure", response_model=MeasureResponse, summary="Time a design with the NumPy engine")
def measure_design(req: MeasureRequest, s: Settings = Depends(settings_of)):
    """Random input and weights of the design's shapes; warm-up runs, then repeats; medians. A design
    whose MACs × (warm-up + repeats) exceed CONVLENS_MAX_MEASURE_MACS is refused before it runs, and
    the repeats stop at CONVLENS_MEASURE_BUDGET_S seconds."""
    shape = tuple(req.input_shape)
    check_input_shape(shape, s)  # the measurement allocates a random input of this shape
    layers = to_layers(req.design)
    counted = design_cost(layers, shape)
    check_limit("MACs × (warm-up + repeats)", counted.macs * (req.warmup + req.repeats), s.max_measure_macs,
                "max_measure_macs")
    check_limit("largest activation (bytes)", max(r.activation_bytes for r in counted.rows),
                s.max_output_elements * 4, "max_output_elements")
    timed = measure(layers, shape, req.seed, req.repeats, req.warmup, s.measure_budget_s, s.compute_threads,
                    s.im2col_chunk_bytes)
    out = []
    for row, times in zip(counted.rows, timed.leaf_ms):  # both list the leaf layers depth-first, in order
        ms = median(times)
        out.append(MeasuredLayer(name=row.name, kind=row.kind, median_ms=ms, macs=row.macs,
                                 gmacs_per_s=row.macs / ms / 1e6 if ms else 0.0,
                                 arithmetic_intensity=row.arithmetic_intensity))
    return MeasureResponse(name=req.design.name, median_ms=median(timed.total_ms), runs=timed.runs,
                           truncated=timed.truncated, macs=counted.macs, layers=out)


class PaperRow(BaseModel):
    name: str
    out_shape: list[int]
    params: int
    macs: int
    printed_params: Optional[str] = None
    printed_params_value: Optional[float] = None
    printed_macs: Optional[str] = None
    printed_macs_value: Optional[float] = None
    note: str = ""


class ArchitectureResponse(BaseModel):
    name: str
    title: str
    input_shape: list[int]
    params: int
    macs: int
    flops: int
    rows: list[PaperRow]
    by_kind: list[dict]
    printed_totals: dict[str, dict]
    paper_by_kind: Optional[dict[str, list[float]]] = None
    notes: list[str]
    layers: list[Row]


@router.get("/architectures", summary="Architectures stored as data")
def list_architectures():
    return [{"name": n, "title": architecture(n).title} for n in ARCHITECTURES]


@router.get("/architectures/{name}", response_model=ArchitectureResponse)
def get_architecture(name: str, alpha: Annotated[float, Query(gt=0, le=2)] = 1.0,
                     resolution: Annotated[int, Query(ge=32, le=1024)] = 224):
    """Per-row params and MACs beside the paper's printed values, totals, and the breakdown by layer type
    (MobileNet's Table 2, for every architecture). alpha and resolution apply to MobileNet."""
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
        notes=list(a.notes), layers=[_row(r) for r in c.rows])
