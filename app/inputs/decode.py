"""Uploaded bytes → float32 (C, H, W). Images go only through Pillow, tensors only through
``numpy.load(allow_pickle=False)``; dimensions are checked from the header before pixels are decoded."""
from __future__ import annotations

import io
import warnings

import numpy as np
from PIL import Image, ImageOps, UnidentifiedImageError

from app.errors import BadUpload, ImageTooLarge, check_limit
from app.inputs.limits import check_input_shape
from app.settings import Settings

IMAGE_FORMATS = ("PNG", "JPEG", "WEBP", "BMP", "GIF", "TIFF")
NPY_MAGIC = b"\x93NUMPY"
ALLOWED_NPY_KINDS = "biuf"  # bool, int, uint, float


def decode_upload(data: bytes, s: Settings, keep_alpha: bool = False) -> np.ndarray:
    if not data:
        raise BadUpload("the file is empty (0 bytes); upload a PNG, JPEG, WebP, BMP, GIF, TIFF or .npy file")
    check_limit("upload size in bytes", len(data), s.max_upload_bytes, "max_upload_bytes")
    arr = decode_npy(data, s) if data.startswith(NPY_MAGIC) else decode_image(data, s, keep_alpha)
    check_input_shape(arr.shape, s)
    return arr


def decode_npy(data: bytes, s: Settings) -> np.ndarray:
    buf = io.BytesIO(data)
    try:
        version = np.lib.format.read_magic(buf)
        read_header = (np.lib.format.read_array_header_1_0 if version == (1, 0)
                       else np.lib.format.read_array_header_2_0)
        shape, _, dtype = read_header(buf)
    except (ValueError, SyntaxError) as exc:
        raise BadUpload(f"not a valid .npy file: {exc}") from None
    if dtype.kind not in ALLOWED_NPY_KINDS:
        raise BadUpload(f".npy dtype {dtype} is not allowed; use a float, int, uint or bool array "
                        "(object arrays, which need pickle, are refused)")
    if len(shape) not in (2, 3):
        raise BadUpload(f".npy shape must be [C, H, W] or [H, W], got {list(shape)}")
    shape3 = tuple(shape) if len(shape) == 3 else (1, *shape)
    check_input_shape(shape3, s)
    try:
        arr = np.load(io.BytesIO(data), allow_pickle=False)
    except (ValueError, OSError, EOFError) as exc:
        raise BadUpload(f"could not read the .npy file: {exc}") from None
    arr = np.asarray(arr, dtype=np.float32).reshape(shape3)
    if not np.isfinite(arr).all():
        raise BadUpload(".npy contains NaN or infinite values (or values too large for float32); "
                        "only finite numbers are allowed")
    return arr


def _open(data: bytes, s: Settings) -> Image.Image:
    Image.MAX_IMAGE_PIXELS = s.max_image_pixels
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            im = Image.open(io.BytesIO(data), formats=IMAGE_FORMATS)
    except (Image.DecompressionBombError, Image.DecompressionBombWarning):
        raise ImageTooLarge(f"the image declares more than {s.max_image_pixels:,} pixels "
                            "(a decompression bomb?); CONVLENS_MAX_IMAGE_PIXELS sets the limit")
    except UnidentifiedImageError:
        raise BadUpload("not a readable image: expected PNG, JPEG, WebP, BMP, GIF, TIFF, or a .npy tensor") from None
    except MemoryError:
        raise
    except Exception as exc:  # any failure on an untrusted file's header is the file's fault (OSError, struct.error…)
        raise BadUpload(f"the image is corrupt or truncated and could not be read: {exc}") from None
    w, h = im.size
    check_limit("image width", w, s.max_width, "max_width")
    check_limit("image height", h, s.max_height, "max_height")
    check_limit("image pixels", w * h, s.max_image_pixels, "max_image_pixels")
    return im


def decode_image(data: bytes, s: Settings, keep_alpha: bool) -> np.ndarray:
    im = _open(data, s)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            im.seek(0)  # the first frame of an animation
            im.load()
            im = ImageOps.exif_transpose(im)
            return _to_array(im, keep_alpha)
    except (BadUpload, ImageTooLarge, MemoryError):
        raise
    except Image.DecompressionBombWarning:
        raise ImageTooLarge(f"the image decodes to more than {s.max_image_pixels:,} pixels (a decompression "
                            "bomb?); CONVLENS_MAX_IMAGE_PIXELS sets the limit") from None
    except Exception as exc:  # Pillow's decoders raise many types on bad data; none of them is our bug
        raise BadUpload(f"the image is corrupt or truncated and could not be decoded: {exc}") from None


def _to_array(im: Image.Image, keep_alpha: bool) -> np.ndarray:
    """Pixels as float32 in [0, 1]: 8-bit modes over 255, 16-bit over 65535, float images as they are."""
    if im.mode in ("I;16", "I;16B", "I;16L", "I;16N", "I"):
        arr = np.asarray(im, dtype=np.float64)
        if arr.min() < 0 or arr.max() > 65535:
            raise BadUpload("32-bit integer images are not supported; save as 8- or 16-bit")
        return (arr / 65535.0).astype(np.float32)[None]
    if im.mode == "F":
        return np.asarray(im, dtype=np.float32)[None]
    has_alpha = im.mode in ("RGBA", "LA", "PA") or (im.mode == "P" and "transparency" in im.info)
    if im.mode in ("1", "L") or (im.mode == "LA" and not keep_alpha):
        target = "L"
    elif im.mode == "LA":
        target = "LA"
    else:
        target = "RGBA" if (keep_alpha and has_alpha) else "RGB"
    arr = np.asarray(im.convert(target), dtype=np.float32) / 255.0
    return (arr[None] if arr.ndim == 2 else arr.transpose(2, 0, 1)).copy()
