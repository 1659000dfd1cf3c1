"""POST /api/transposed/check, /api/transposed, /api/transposed/trace and /api/transposed/view (issue 15):
each calls one function of app.answers_transposed."""
from __future__ import annotations

from fastapi import APIRouter, Depends

from app import answers_transposed as service
from app.api.deps import settings_of, store_of
from app.api.respond import respond
from app.encoding import FRAME_MEDIA_TYPE
from app.inputs.store import InputStore
from app.schemas import ERROR_RESPONSES
from app.schemas_transposed import (TransposedCheckRequest, TransposedCheckResponse, TransposedRequest, TransposedResponse,
                                    TransposedTraceRequest, TransposedTraceResponse, TransposedViewRequest,
                                    TransposedViewResponse)
from app.settings import Settings

router = APIRouter(prefix="/api", tags=["transposed convolution"], responses=ERROR_RESPONSES)


@router.post("/transposed/check", response_model=TransposedCheckResponse,
             summary="Check a transposed convolution without running it")
def transposed_check(req: TransposedCheckRequest, s: Settings = Depends(settings_of),
                     store: InputStore = Depends(store_of)):
    """Output shape, cost and the formulas, from shapes alone; an invalid layer answers ``valid: false``
    with the error /api/transposed would give. Nothing is allocated, so a page calls it on every change."""
    return service.check(req, store, s)


@router.post("/transposed", response_model=TransposedResponse, summary="Run one transposed convolution",
             responses={200: {"content": {FRAME_MEDIA_TYPE: {}}, "description": "JSON, or with encoding=binary "
                                                                              "the same response as a binary frame"}})
def transposed(req: TransposedRequest, s: Settings = Depends(settings_of), store: InputStore = Depends(store_of)):
    """Input → ``torch.nn.functional.conv_transpose2d`` (weight layout [C_in, C_out/groups, kH, kW]) →
    the output, the weights, the cost (MACs: one per tap of each input pixel's stamp, as torch's
    FlopCounterMode counts) and the formulas with this layer's numbers: the output size, the equivalent
    direct convolution over the zero-inserted input, the convolution-arithmetic guide's relationships
    and which input shapes of the matching convolution this layer restores."""
    response, frame, ms = service.run(req, store, s)
    return respond(response, frame, req.encoding, {"X-Engine-Ms": f"{ms:.3f}"})


@router.post("/transposed/trace", response_model=TransposedTraceResponse,
             summary="One transposed-convolution output value in both readings")
def transposed_trace(req: TransposedTraceRequest, s: Settings = Depends(settings_of),
                     store: InputStore = Depends(store_of)):
    """For each position: *scatter* (every input pixel whose stamp covers it, with the kernel tap that
    lands there: r + p = row·s + tap·d) and *gather* (the stride-1 window over the zero-inserted, padded
    input with the kernel rotated 180°), each summed, the bias, and the engine's value. The three agree.
    With ``spot`` instead of positions: every output of a square the server places inside the output."""
    return service.trace(req, store, s)


@router.post("/transposed/view", response_model=TransposedViewResponse,
             summary="Check, run and trace a transposed convolution in one request",
             responses={200: {"content": {FRAME_MEDIA_TYPE: {}}, "description": "JSON, or with encoding=binary "
                                                                              "the same response as a binary frame"}})
def transposed_view(req: TransposedViewRequest, s: Settings = Depends(settings_of),
                    store: InputStore = Depends(store_of)):
    """What /transposed draws after a control change: the check (as /api/transposed/check), and for a
    valid layer the run (as /api/transposed) and, with ``trace``, both readings of a square of outputs
    (as /api/transposed/trace) placed on the output this layer gives. An invalid layer is a valid answer
    here, as for the check: 200 with ``check.valid: false`` and nothing else."""
    response, frame, ms = service.view(req, store, s)
    return respond(response, frame, req.encoding, {"X-Engine-Ms": f"{ms:.3f}"})
