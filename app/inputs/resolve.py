"""An input spec from a request → (tensor, info). Shapes are checked before anything is generated."""
from __future__ import annotations

import numpy as np

from app.errors import NotFound
from app.inputs.limits import check_input_shape
from app.inputs.samples import SAMPLES, random_tensor, sample_tensor
from app.inputs.store import InputStore
from app.schemas import ActivationInput, InputInfo, RandomInput, SampleInput, UploadInput
from app.settings import Settings


def input_shape(spec: SampleInput | RandomInput | UploadInput, store: InputStore, s: Settings
                ) -> tuple[tuple[int, int, int], InputInfo]:
    """The input's shape without generating or loading it (for layer checks that run on every keystroke)."""
    if isinstance(spec, RandomInput):
        shape = tuple(spec.shape)
        check_input_shape(shape, s)
        return shape, InputInfo(shape=list(shape), source=f"random:{spec.distribution}:seed={spec.seed}")
    if isinstance(spec, UploadInput):
        meta = store.info(spec.id)
        return meta.shape, InputInfo(id=meta.id, shape=list(meta.shape), source=meta.source)
    if isinstance(spec, ActivationInput):  # from the model's shapes: a check does not run the model
        from app.models.layers import layer_input_shape
        shape = layer_input_shape(spec.model, spec.layer, spec.input, store, s)
        return shape, InputInfo(shape=list(shape), source=f"activation:{spec.model}:{spec.layer[:100]}")
    arr, info = resolve_input(spec, store, s)
    return tuple(arr.shape), info


def resolve_input(spec: SampleInput | RandomInput | UploadInput, store: InputStore, s: Settings
                  ) -> tuple[np.ndarray, InputInfo]:
    if isinstance(spec, SampleInput):
        if spec.name not in SAMPLES:
            raise NotFound(f"unknown sample '{spec.name}'; known samples: {', '.join(SAMPLES)}")
        arr = sample_tensor(spec.name)
        return arr, InputInfo(shape=list(arr.shape), source=f"sample:{spec.name}")
    if isinstance(spec, RandomInput):
        shape = tuple(spec.shape)
        check_input_shape(shape, s)
        arr = random_tensor(shape, spec.seed, spec.distribution)
        return arr, InputInfo(shape=list(shape), source=f"random:{spec.distribution}:seed={spec.seed}")
    if isinstance(spec, ActivationInput):  # issue 13: a layer's real input, from the networks service
        from app.models.layers import layer_input_activation
        arr = layer_input_activation(spec.model, spec.layer, spec.input, store, s)
        return arr, InputInfo(shape=list(arr.shape), source=f"activation:{spec.model}:{spec.layer[:100]}")
    arr, meta = store.get(spec.id)
    return arr, InputInfo(id=meta.id, shape=list(arr.shape), source=meta.source)
