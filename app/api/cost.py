"""The cost lab's API: designs counted (/api/cost), timed (/api/measure, /api/measure/compare), and real
architectures. Each route parses, calls one function of app/lab.py, and answers."""
from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Query, Request

from app import lab
from app.api.deps import settings_of
from app.designs import ARCHITECTURES, architecture
from app.schemas import ERROR_RESPONSES
from app.schemas_cost import (ArchitectureResponse, CompareRequest, CompareResponse, Comparison, CostRequest,
                              CostResponse, MeasureRequest, MeasureResponse)
from app.settings import Settings

router = APIRouter(prefix="/api", tags=["cost lab"], responses=ERROR_RESPONSES)


async def design_size(request: Request, s: Settings = Depends(settings_of)) -> None:
    """Runs before the body is validated: FastAPI has parsed the JSON (and cached it on the request), so
    the design's size is checked on it before pydantic walks every layer. A body that is not JSON is
    left for the validation to answer."""
    try:
        body = await request.json()
    except ValueError:
        return
    lab.check_design_size(body, s)


Sized = Depends(design_size)


@router.post("/cost", response_model=CostResponse, summary="Count params, MACs and bytes of designs",
             dependencies=[Sized])
def cost(req: CostRequest, s: Settings = Depends(settings_of)):
    """Each design's rows with their formulas, and a PyTorch module with the same layers. Designs are capped
    at CONVLENS_MAX_DESIGN_LAYERS layers and branches and CONVLENS_MAX_DESIGN_DEPTH levels of branches."""
    return lab.count(req, s)


@router.get("/comparisons", response_model=list[Comparison], summary="Preset design pairs")
def comparisons():
    return lab.comparisons()


@router.post("/measure", response_model=MeasureResponse, summary="Time a design with the NumPy engine",
             dependencies=[Sized])
def measure_design(req: MeasureRequest, s: Settings = Depends(settings_of)):
    """Random input and weights of the design's shapes; warm-up runs, then repeats; median and quartiles.
    Refused before it runs when a layer is over a /api/convolve limit, when MACs × (warm-up + repeats)
    exceed CONVLENS_MAX_MEASURE_MACS, or when the memory it needs may exceed CONVLENS_MAX_MEASURE_BYTES.
    CONVLENS_MEASURE_BUDGET_S bounds the wall time, checked before every layer: `truncated` says it cut."""
    return lab.measure_one(req, s)


@router.post("/measure/compare", response_model=CompareResponse, summary="Time two designs in A/B pairs",
             dependencies=[Sized])
def measure_compare(req: CompareRequest, s: Settings = Depends(settings_of)):
    """A and B run in alternating order (A B, B A, …) on the same input; the speed-up is the median of
    the per-pair ratios A ÷ B with its quartiles, and `trusted` is false when there are fewer than 3
    pairs or the interquartile range exceeds 20 % of the median. Limits as /api/measure, for both."""
    return lab.compare(req, s)


@router.get("/architectures", summary="Architectures stored as data")
def list_architectures():
    return [{"name": n, "title": architecture(n).title} for n in ARCHITECTURES]


@router.get("/architectures/{name}", response_model=ArchitectureResponse)
def get_architecture(name: str, alpha: Annotated[float, Query(gt=0, le=2)] = 1.0,
                     resolution: Annotated[int, Query(ge=32, le=1024)] = 224):
    """Per-row params and MACs beside the paper's printed values, totals, and the breakdown by layer type
    (MobileNet's Table 2, for every architecture). alpha and resolution apply to MobileNet."""
    return lab.architecture_table(name, alpha, resolution)
