"""An uploaded photo or drawing as a model's input (app/models/image_input.py and the "image" input kind
of /api/models/{id}/run): the digits model gets the dataset's format, other models their channels and H×W."""
from __future__ import annotations

import io

import numpy as np
import pytest
import torch
from PIL import Image

from app.encoding import decode_array
from app.engine.graph import run
from app.models.digits import digits_to_input
from app.models.image_input import image_to_digit, image_to_model_input, ink_up
from app.models.onnx_import import model_graph, parse_model
from app.models.service import BUILTIN_DIR, builtin_test_set
from app.settings import Settings
from tests.onnx_models import build, export


def png(grey: np.ndarray) -> bytes:
    """(H, W) in [0, 1] → an 8-bit greyscale PNG."""
    buf = io.BytesIO()
    Image.fromarray(np.rint(grey * 255).astype(np.uint8), mode="L").save(buf, format="PNG")
    return buf.getvalue()


def on_paper(digit: np.ndarray, scale: int = 8, margin: int = 16) -> np.ndarray:
    """A dataset digit (8×8 of 0..16) as a photo would show it: dark ink on white paper, larger, off-centre."""
    ink = np.kron(digit / 16.0, np.ones((scale, scale)))
    return np.pad(1.0 - ink, ((margin, 2 * margin), (3 * margin, margin)), constant_values=1.0)


@pytest.fixture(scope="module")
def digits_graph():
    s = Settings()
    return model_graph(parse_model((BUILTIN_DIR / "digits.onnx").read_bytes(), s), None, s)


def predict(g, x) -> int:
    return int(run(g, {g.inputs[0]: x})[g.outputs[0]].argmax())


def test_held_out_digits_photographed_on_paper_are_still_recognised(digits_graph):
    """Every held-out digit, drawn dark on white, enlarged ×8 and placed off-centre with a margin: the
    conversion (invert, stretch, the digit's box fitted, 8×8 of 0..16) gives back the dataset's format
    closely enough that the model's accuracy stays near its 97.8 % on the dataset's own tensors."""
    images, labels = builtin_test_set("digits")
    hits = sum(predict(digits_graph, image_to_model_input(on_paper(d)[None], (1, 1, 32, 32), True)) == y
               for d, y in zip(images, labels))
    assert hits / len(labels) >= 0.95, hits / len(labels)


def test_a_digit_that_fills_its_box_comes_back_exactly():
    """Light ink on dark ground, exactly the 32×32 ×4 rendering the model trains on, whose ink spans all 32
    rows and the full width and covers less than half of it: the conversion is the identity on the 8×8 digit."""
    digit = np.zeros((8, 8), np.uint8)
    digit[:, 0], digit[:, 7], digit[0, :], digit[7, :] = 16, 16, 16, 16  # a frame: its box is the whole image
    digit[3, 3:5] = 8  # 28 + 2 of 64 cells inked: the median pixel is the ground
    img = np.kron(digit / 16.0, np.ones((4, 4)))[None]
    # the frame makes the border light, so say the polarity: ink is bright here
    np.testing.assert_array_equal(image_to_digit(img, invert=False), digit)
    np.testing.assert_array_equal(image_to_model_input(img, (1, 1, 32, 32), True, invert=False), digits_to_input(digit[None]))


def test_dark_ink_on_light_paper_is_inverted_and_stretched():
    grey = np.full((10, 10), 0.9)  # paper at 0.9, ink at 0.3
    grey[4:6, 2:8] = 0.3
    ink = ink_up(grey)
    assert ink[0, 0] == 0 and ink[5, 5] == pytest.approx(1.0)  # paper → 0, the strongest ink → 1
    assert ink_up(np.full((6, 6), 0.4)).max() == 0  # a flat image has no ink


def test_other_models_get_their_channels_and_size_with_the_aspect_kept():
    rgb = np.zeros((3, 10, 20))
    rgb[0], rgb[1], rgb[2] = 0.2, 0.4, 0.8
    grey = image_to_model_input(rgb, (1, 1, 16, 16), False)  # 10×20 → 8×16, centred rows 4..11
    assert grey.shape == (1, 1, 16, 16) and grey.dtype == np.float32
    luma = 0.299 * 0.2 + 0.587 * 0.4 + 0.114 * 0.8
    np.testing.assert_allclose(grey[0, 0, 4:12], luma, rtol=1e-6)
    assert not grey[0, 0, :4].any() and not grey[0, 0, 12:].any()
    three = image_to_model_input(rgb[:1], (1, 3, 16, 16), False)  # a grey image repeated for RGB
    np.testing.assert_array_equal(three[0, 0], three[0, 2])
    from app.errors import ConvlensError
    with pytest.raises(ConvlensError, match="reads 3 channels"):
        image_to_model_input(np.zeros((2, 4, 4)), (1, 3, 8, 8), False)


def test_run_on_an_uploaded_photo_predicts_and_shows_the_converted_input(client, digits_graph):
    images, labels = builtin_test_set("digits")
    k = int(np.flatnonzero(labels == 3)[0])
    up = client.post("/api/inputs", files={"file": ("three.png", png(on_paper(images[k])), "image/png")})
    assert up.status_code == 201, up.text
    r = client.post("/api/models/digits/run", json={"input": {"kind": "image", "id": up.json()["id"]}})
    assert r.status_code == 200, r.text
    res = r.json()
    stored, _ = np.asarray(on_paper(images[k])), None
    want = image_to_model_input((np.rint(stored * 255) / 255)[None], (1, 1, 32, 32), True)
    np.testing.assert_array_equal(decode_array(res["input_preview"]), want[0])  # the page shows exactly this
    assert res["prediction"]["top"] == predict(digits_graph, want) == 3
    model_input = client.get(f"/api/inputs/{res['input']['id']}")
    assert model_input.status_code == 200 and model_input.json()["shape"] == [1, 32, 32]


def test_a_digit_drawn_on_a_transparent_background_is_recognised(client, digits_graph):
    """A drawing saved with a transparent background (black ink, alpha 0 elsewhere, the hidden colour black):
    the model used to see an empty image (black on black) and predicted from nothing."""
    images, labels = builtin_test_set("digits")
    k = int(np.flatnonzero(labels == 4)[0])
    ink = 1.0 - on_paper(images[k])                        # 1 where the digit is, 0 on the paper
    rgba = np.zeros((*ink.shape, 4), np.uint8)
    rgba[..., 3] = np.rint(ink * 255).astype(np.uint8)     # black, as opaque as the ink is dark
    buf = io.BytesIO()
    Image.fromarray(rgba, "RGBA").save(buf, format="PNG")
    up = client.post("/api/inputs", files={"file": ("four.png", buf.getvalue(), "image/png")}).json()
    res = client.post("/api/models/digits/run", json={"input": {"kind": "image", "id": up["id"]}}).json()
    shown = decode_array(res["input_preview"])
    assert shown.max() > 0.5                               # the digit is there
    assert res["prediction"]["top"] == predict(digits_graph, shown[None]) == 4


def test_image_input_for_an_uploaded_rgb_model(client):
    data = export(build("small_vgg"), torch.randn(1, 3, 32, 32), keep_bn=False)
    mid = client.post("/api/models/upload", files={"file": ("vgg.onnx", data)}).json()["id"]
    photo = np.linspace(0, 1, 3 * 24 * 48, dtype=np.float32).reshape(24, 48, 3)
    buf = io.BytesIO()
    Image.fromarray(np.rint(photo * 255).astype(np.uint8), mode="RGB").save(buf, format="PNG")
    up = client.post("/api/inputs", files={"file": ("p.png", buf.getvalue(), "image/png")}).json()
    r = client.post(f"/api/models/{mid}/run", json={"input": {"kind": "image", "id": up["id"]}})
    assert r.status_code == 200, r.text
    shown = decode_array(r.json()["input_preview"])
    assert shown.shape == (3, 32, 32) and not shown[:, :8].any() and not shown[:, 24:].any()  # 24×48 → 16×32


def test_image_input_errors_are_clear(client):
    r = client.post("/api/models/digits/run", json={"input": {"kind": "image", "id": "0" * 64}})
    assert r.status_code == 404 and "error" in r.json()
    r = client.post("/api/models/digits/run", json={"input": {"kind": "image", "id": "not-an-id"}})
    assert r.status_code == 422
