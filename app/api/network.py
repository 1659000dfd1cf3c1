"""/api/models: open the built-in model or upload an ONNX file; its graph and cost table; a forward run
with every layer's activation summary and time; one activation as an array."""
from __future__ import annotations

from typing import Annotated, Optional

from fastapi import APIRouter, Depends, File, Path, Query, Request, Response, UploadFile
from fastapi.responses import JSONResponse

from app.api.chunked import ChunkedResponse
from app.api.deps import settings_of, store_of
from app.encoding import FRAME_MEDIA_TYPE, Frame, encode_array, json_bytes, npy_chunks
from app.errors import check_limit
from app.inputs.store import InputStore
from app.models import layers, service
from app.models.store import ModelStore
from app.schemas import ERROR_RESPONSES
from app.schemas_network import (ActivationRequest, ConvLayerInfo, LayerRequest, LayerView, ModelDetail, ModelInfo, RunRequest,
                                 RunResponse)
from app.settings import Settings

router = APIRouter(prefix="/api/models", tags=["networks"], responses=ERROR_RESPONSES)
ModelId = Annotated[str, Path(max_length=64, description='"digits" (built-in) or the id the upload returned',
                              examples=["digits"])]
BINARY = {200: {"content": {FRAME_MEDIA_TYPE: {}, "application/x-npy": {}},
                "description": "JSON; with encoding=binary a binary frame (see POST /api/convolve)"}}


def models_of(request: Request) -> ModelStore:
    return request.app.state.models


@router.get("", response_model=list[ModelInfo], summary="Built-in and uploaded models")
def list_models(s: Settings = Depends(settings_of), models: ModelStore = Depends(models_of)):
    return service.list_models(models, s)


@router.post("/upload", response_model=ModelInfo, status_code=201, summary="Upload an ONNX model",
             description="One .onnx file (export with `torch.onnx.export(..., external_data=False)`), at most "
                         "CONVLENS_MAX_MODEL_BYTES. It is parsed, never executed by anything but the NumPy engine; "
                         "external data, custom domains, control flow and ops off the list are refused with the "
                         "reason. The id is the SHA-256 of the file.")
def upload_model(file: Annotated[UploadFile, File(description="the .onnx file")],
                 s: Settings = Depends(settings_of), models: ModelStore = Depends(models_of)):
    data = file.file.read(s.max_model_bytes + 1)
    check_limit("model size in bytes", len(data), s.max_model_bytes, "max_model_bytes")
    return service.upload_model(data, file.filename or "model.onnx", models, s)


@router.get("/{model_id}", response_model=ModelDetail, summary="A model's layers and cost table")
def model_detail(model_id: ModelId,
                 height: Annotated[Optional[int], Query(ge=1, le=2**31 - 1, description="for a dynamic input size")] = None,
                 width: Annotated[Optional[int], Query(ge=1, le=2**31 - 1)] = None,
                 s: Settings = Depends(settings_of), models: ModelStore = Depends(models_of)):
    """Every node after BatchNormalization folding: op, kernel, stride, groups, input → output shape, params,
    MACs, bytes read and written, MACs per byte; totals, the 1×1 share and a breakdown by op."""
    service.check_model_id(model_id)
    size = [height or width, width or height] if (height or width) else None
    return service.model_detail(model_id, size, models, s)


@router.get("/{model_id}/conv", response_model=ConvLayerInfo, summary="Name one Conv layer (BN folded or not)")
def conv_layer(model_id: ModelId,
               name: Annotated[str, Query(max_length=512, description="a Conv layer's name from GET /api/models/{id}",
                                          examples=["/mix/mix.0/Conv"])],
               s: Settings = Depends(settings_of), models: ModelStore = Depends(models_of)):
    """The layer's weight shape, bias and whether a BatchNormalization was folded into it, and the label the
    pages show for the weights kind {"kind": "layer", "model": M, "layer": L}. Nothing is run."""
    return layers.conv_layer_info(model_id, name, models, s)


@router.post("/{model_id}/run", response_model=RunResponse, summary="Run a model on one input", responses=BINARY)
def run_model(model_id: ModelId, req: RunRequest, s: Settings = Depends(settings_of),
              models: ModelStore = Depends(models_of), inputs: InputStore = Depends(store_of)):
    """The forward pass in the NumPy engine: the prediction, each layer's output shape, min/max/mean and
    measured time (and share), and small pictures of its first channels."""
    service.check_model_id(model_id)
    res, frame = service.run_model(model_id, req, models, inputs, s)
    if frame is not None:
        return ChunkedResponse(frame.chunks(res.model_dump_json().encode()), FRAME_MEDIA_TYPE)
    return Response(json_bytes(res.model_dump()), media_type="application/json")


@router.post("/{model_id}/activation", summary="One activation of a forward pass", responses=BINARY)
def activation(model_id: ModelId, req: ActivationRequest, s: Settings = Depends(settings_of),
               models: ModelStore = Depends(models_of), inputs: InputStore = Depends(store_of)):
    """A layer's input or output tensor (batch axis dropped) as a binary frame ``{"activation": array}``,
    base64 JSON, or an .npy body."""
    service.check_model_id(model_id)
    a = service.activation(model_id, req, models, inputs, s)
    if req.encoding == "npy":
        return ChunkedResponse(npy_chunks(a), "application/x-npy")
    frame = Frame() if req.encoding == "binary" else None
    enc = encode_array(a, req.encoding, frame)
    if frame is not None:
        return ChunkedResponse(frame.chunks(JSONResponse({"activation": enc.model_dump()}).body), FRAME_MEDIA_TYPE)
    return Response(json_bytes({"activation": enc.model_dump()}), media_type="application/json")


@router.post("/{model_id}/layer", response_model=LayerView, summary="One Conv layer's real weights and input")
def layer_view(model_id: ModelId, req: LayerRequest, s: Settings = Depends(settings_of),
               models: ModelStore = Depends(models_of), inputs: InputStore = Depends(store_of)):
    """The layer's weights (BN folded where marked) and the activation it reads for this input, stored as an
    input id, so POST /api/convolve (and /conv, /pointwise) can run exactly this layer on it."""
    service.check_model_id(model_id)
    return layers.layer_view(model_id, req, models, inputs, s)
