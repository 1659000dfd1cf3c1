"""POST /api/receptive: receptive fields layer by layer (issue 15 §2)."""
from __future__ import annotations

from fastapi import APIRouter, Depends, Request

from app.api.cost import Sized
from app.api.deps import settings_of, store_of
from app.compute_receptive import receptive as receptive_fields
from app.inputs.store import InputStore
from app.schemas import ERROR_RESPONSES
from app.schemas_receptive import ReceptiveRequest, ReceptiveResponse
from app.settings import Settings

router = APIRouter(prefix="/api", tags=["receptive fields"], responses=ERROR_RESPONSES)


@router.post("/receptive", response_model=ReceptiveResponse, summary="Receptive fields, layer by layer",
             dependencies=[Sized])  # a design's layers and nesting are counted before validation
def receptive(req: ReceptiveRequest, request: Request, s: Settings = Depends(settings_of),
              store: InputStore = Depends(store_of)):
    """A paper architecture (or your own stack) walked on the input's H×W: for every layer, the receptive
    field's size, jump (effective stride) and start per axis by the standard recurrence (Araujo, Norris &
    Sim, Distill 2019), with the range over the paths of Concat/Add; and the field of the output nearest a
    point of the input (or of a chosen output position), as a box on the input. 1×1 layers leave it
    unchanged; pooling and strides grow the jump. With ``model`` (see /api/models) the layers are an
    imported model's nodes, measured on its own input size (``grid``)."""
    return receptive_fields(req, getattr(request.app.state, "models", None), store, s)
