"""Endpoints behind the 1×1 page: the matrix view, C-vs-H,W reduction, NiN stacks and FC ≡ conv.
Every equivalence is computed by app.engine.pointwise through app.compute_pointwise; these routers only
call it and send the answer."""
from __future__ import annotations

from fastapi import APIRouter, Depends

from app import compute_pointwise as service
from app.api.deps import settings_of, store_of
from app.api.respond import respond
from app.encoding import FRAME_MEDIA_TYPE
from app.inputs.store import InputStore
from app.schemas import ERROR_RESPONSES
from app.schemas_pointwise import (FcRequest, FcResponse, MatmulRequest, MatmulResponse, NinRequest, NinResponse,
                                   Reduced, ReduceRequest)
from app.settings import Settings

router = APIRouter(prefix="/api/pointwise", tags=["1×1 convolution"], responses=ERROR_RESPONSES)


@router.post("/matmul", response_model=MatmulResponse, summary="A 1×1 layer as one matrix product",
             responses={200: {"content": {FRAME_MEDIA_TYPE: {}}, "description": "JSON; with encoding=binary a binary frame"}})
def matmul_view(req: MatmulRequest, s: Settings = Depends(settings_of), store: InputStore = Depends(store_of)):
    """The input reshaped to (H·W × C_in), times Wᵀ (C_in × C_out), gives (H·W × C_out); reshaped back,
    it is the convolution's output. Both differences are computed by the engine."""
    return respond(*service.matmul_view(req, store, s))


@router.post("/reduce", response_model=list[Reduced], summary="Pooling shrinks H and W; a 1×1 conv shrinks C")
def reduce(req: ReduceRequest, s: Settings = Depends(settings_of), store: InputStore = Depends(store_of)):
    return service.reduce(req, store, s)


@router.post("/nin", response_model=NinResponse, summary="Stacked 1×1 conv + ReLU = an MLP at every pixel")
def nin(req: NinRequest, s: Settings = Depends(settings_of), store: InputStore = Depends(store_of)):
    """The stack's activations at one pixel, its weights, and the check that the stack run as 1×1
    convolutions over the whole input equals the MLP applied to every pixel (computed once per input,
    widths and seed, then remembered)."""
    return service.nin(req, store, s)


@router.post("/fc", response_model=FcResponse, summary="A fully connected layer is a convolution")
def fc(req: FcRequest, s: Settings = Depends(settings_of)):
    """FC with O outputs over a k×k×C block = a k×k conv with O filters (k = 1: FC on a C-vector = 1×1
    conv). Slid over a larger input, the same weights give an (O, size−k+1, size−k+1) map of scores."""
    return service.fc(req, s)
