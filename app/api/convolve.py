"""POST /api/layer/check, /api/convolve, /api/trace and /api/convolve/view: each calls one function of
app.compute_convolve."""
from __future__ import annotations

from fastapi import APIRouter, Depends, Response

from app import compute_convolve as service
from app.api.chunked import ChunkedResponse
from app.api.deps import settings_of, store_of
from app.api.respond import plain_json, respond
from app.encoding import FRAME_MEDIA_TYPE
from app.inputs.store import InputStore
from app.schemas import ERROR_RESPONSES, ConvolveRequest, ConvolveResponse, LayerCheckRequest, LayerCheckResponse, TraceRequest
from app.schemas_view import ViewRequest, ViewResponse
from app.settings import Settings

router = APIRouter(prefix="/api", tags=["convolution"], responses=ERROR_RESPONSES)


@router.post("/layer/check", response_model=LayerCheckResponse, summary="Check a layer without running it")
def check_layer(req: LayerCheckRequest, s: Settings = Depends(settings_of), store: InputStore = Depends(store_of)):
    """Output shape, cost, the formulas with this layer's numbers, and which input channels feed each
    output channel. An invalid layer is a valid answer here: ``valid: false`` with the error /api/convolve
    would give. Nothing is allocated, so a page can call it on every control change."""
    return service.check_layer(req, store, s)


@router.post("/convolve", response_model=ConvolveResponse, summary="Run one convolution layer",
             responses={200: {"content": {FRAME_MEDIA_TYPE: {}, "application/x-npy": {}, "image/png": {}},
                              "description": "JSON; with encoding=binary the same response as a binary frame; "
                                             "with encoding=npy the output alone as an .npy body; with "
                                             "encoding=png one output channel as a picture"}})
def convolve(req: ConvolveRequest, s: Settings = Depends(settings_of), store: InputStore = Depends(store_of)):
    """Input (sample, random or upload) → layer → every output channel, the weights used, and the cost.

    Arrays are base64 little-endian float32 in row-major order with their shape and per-channel min/max
    (``encoding="base64"``, the default), nested JSON lists (``"list"``), raw bytes after a JSON header
    (``"binary"``, an ``application/x-convlens-frame`` body: a little-endian uint32 N, N bytes of JSON,
    then each array at its ``offset`` from there, 8-byte aligned), or, with ``"npy"``, the output tensor
    alone as an ``application/x-npy`` body. The same request always gives the same numbers.
    """
    answer = service.convolve(req, store, s)
    headers = {"X-Engine-Ms": f"{answer.engine_ms:.3f}"}
    if answer.npy is not None:
        return ChunkedResponse(answer.npy, "application/x-npy", headers)
    if answer.png is not None:
        return Response(answer.png, media_type="image/png", headers=headers)
    return respond(answer.response, answer.frame, req.encoding, headers)


@router.post("/trace", summary="The computation behind output values, term by term")
def trace(req: TraceRequest, s: Settings = Depends(settings_of), store: InputStore = Depends(store_of)):
    """For each requested output position: the input window it reads (rows and columns in input
    coordinates; outside [0, H) is padding), each input channel's window, the weights as applied (flipped
    when ``flip``), the element-wise products, each channel's partial sum, the bias, the total before the
    activation and the value. Its ``value`` equals /api/convolve's output at that position."""
    return plain_json(service.trace(req, store, s))


@router.post("/convolve/view", response_model=ViewResponse, summary="Check, run and trace a layer in one request",
             responses={200: {"content": {FRAME_MEDIA_TYPE: {}},
                              "description": "JSON; with encoding=binary the same response as a binary frame"}})
def view(req: ViewRequest, s: Settings = Depends(settings_of), store: InputStore = Depends(store_of)):
    """What a page draws after a control change: the layer check (as /api/layer/check), and for a valid
    layer the run (as /api/convolve) and, with ``trace``, the computation of a region of outputs (as
    /api/trace) placed on the output this layer gives. An invalid layer is a valid answer here, as for
    the check: 200 with ``check.valid: false`` and nothing else."""
    answer = service.view(req, store, s)
    return respond(answer.response, answer.frame, req.encoding, {"X-Engine-Ms": f"{answer.engine_ms:.3f}"})
