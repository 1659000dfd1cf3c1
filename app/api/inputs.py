"""Samples, presets and uploads: what a convolution can be run on, and with."""
from __future__ import annotations

from typing import Annotated, Optional

from fastapi import APIRouter, Depends, File, Form, Query, Response, UploadFile
from pydantic import BaseModel

from app.api.deps import settings_of, store_of
from app.encoding import to_png
from app.errors import NotFound, check_limit
from app.inputs.decode import decode_upload
from app.inputs.samples import SAMPLES, sample_tensor
from app.inputs.store import InputStore
from app.schemas import ERROR_RESPONSES, InputInfo
from app.settings import Settings
from app.weights import PRESETS

router = APIRouter(prefix="/api", tags=["inputs"], responses=ERROR_RESPONSES)
PNG = {"content": {"image/png": {}}, "description": "a PNG picture"}


class SampleInfo(BaseModel):
    name: str
    description: str
    shape: list[int]


class PresetInfo(BaseModel):
    name: str
    kind: str
    description: str
    needs_channels: Optional[int]


@router.get("/samples", response_model=list[SampleInfo], summary="Built-in inputs")
def list_samples():
    return [SampleInfo(name=s.name, description=s.description, shape=list(sample_tensor(s.name).shape))
            for s in SAMPLES.values()]


def _preview(arr, channel: Optional[int]) -> Response:
    if channel is not None and not 0 <= channel < arr.shape[0]:
        raise NotFound(f"channel {channel} does not exist; this input has channels 0..{arr.shape[0] - 1}")
    return Response(to_png(arr, channel), media_type="image/png", headers={"Cache-Control": "max-age=3600"})


@router.get("/samples/{name}/preview.png", responses={200: PNG}, response_class=Response)
def sample_preview(name: str, channel: Annotated[Optional[int], Query(ge=0)] = None):
    if name not in SAMPLES:
        raise NotFound(f"unknown sample '{name[:64]}'; known samples: {', '.join(SAMPLES)}")
    return _preview(sample_tensor(name), channel)


@router.get("/presets", response_model=list[PresetInfo], summary="Named weights",
            description="k×k presets are cross-correlation kernels applied to each channel; "
                        "1×1 presets mix channels at every pixel.")
def list_presets():
    return [PresetInfo(name=p.name, kind=p.kind, description=p.description, needs_channels=p.needs_channels)
            for p in PRESETS.values()]


@router.post("/inputs", response_model=InputInfo, status_code=201, summary="Upload an image or .npy tensor",
             description="PNG, JPEG, WebP, BMP, GIF (first frame) or TIFF become float32 in [0, 1], shape "
                         "[C, H, W] (RGB → 3, grey → 1, a transparent image is laid over white paper, its alpha kept as a channel only with keep_alpha). A .npy must be "
                         "[C, H, W] or [H, W] of a numeric dtype; pickled objects are refused. The id is the "
                         "SHA-256 of the decoded tensor.")
def upload_input(file: Annotated[UploadFile, File(description="the image or .npy file")],
                 keep_alpha: Annotated[bool, Form()] = False,
                 s: Settings = Depends(settings_of), store: InputStore = Depends(store_of)):
    data = file.file.read(s.max_upload_bytes + 1)
    check_limit("upload size in bytes", len(data), s.max_upload_bytes, "max_upload_bytes")
    arr = decode_upload(data, s, keep_alpha)
    meta = store.put(arr)  # the filename is neither stored nor echoed: the same content has one id for everyone
    return InputInfo(id=meta.id, shape=list(meta.shape), source=meta.source)


@router.get("/inputs/{input_id}", response_model=InputInfo)
def input_info(input_id: str, store: InputStore = Depends(store_of)):
    meta = store.info(input_id)
    return InputInfo(id=meta.id, shape=list(meta.shape), source=meta.source)


@router.get("/inputs/{input_id}/preview.png", responses={200: PNG}, response_class=Response)
def input_preview(input_id: str, channel: Annotated[Optional[int], Query(ge=0)] = None,
                  store: InputStore = Depends(store_of)):
    arr, _ = store.get(input_id)
    return _preview(arr, channel)
