"""Uploaded bytes → float32 (C, H, W). Images go only through Pillow, tensors only through
``numpy.load(allow_pickle=False)``; dimensions are checked from the header before pixels are decoded."""
from __future__ import annotations

import io
import warnings

import numpy as np
from PIL import ExifTags, Image, ImageOps, UnidentifiedImageError

from app.errors import BadUpload, ImageTooLarge, check_limit
from app.inputs.limits import check_input_shape
from app.settings import Settings

IMAGE_FORMATS = ("PNG", "JPEG", "WEBP", "BMP", "GIF", "TIFF")
NPY_MAGIC = b"\x93NUMPY"
ALLOWED_NPY_KINDS = "biuf"  # bool, int, uint, float
ORIENTATION = ExifTags.Base.Orientation


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
    except Exception as exc:  # noqa: BLE001 - NumPy parses the header with ast.literal_eval and, failing
        # that, tokenize: a damaged header raises ValueError, SyntaxError, tokenize.TokenError or TypeError
        # (bytes flipped in real files raised all four); each one means the same: not a .npy we can read
        raise BadUpload(f"not a valid .npy file: {type(exc).__name__}: {str(exc)[:200]}") from None
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
        raise ImageTooLarge(f"the image declares more than {s.max_image_pixels:,} pixels, the most allowed "
                            "(a decompression bomb?)", limit="CONVLENS_MAX_IMAGE_PIXELS")
    except UnidentifiedImageError:
        raise BadUpload("not a readable image: expected PNG, JPEG, WebP, BMP, GIF, TIFF, or a .npy tensor") from None
    except MemoryError:
        raise
    except Exception as exc:  # any failure on an untrusted file's header is the file's fault (OSError, struct.error…)
        raise BadUpload(f"the image is corrupt or truncated and could not be read: {exc}") from None
    w, h = im.size
    check_limit("image pixels", w * h, s.max_image_pixels, "max_image_pixels")
    return im


def _oriented_size(im: Image.Image) -> tuple[int, int]:
    """(H, W) after the EXIF rotation that ``exif_transpose`` will apply (orientations 5–8 swap them).
    Read with the base class's getexif: PngImageFile's own decodes every pixel to look for an eXIf
    chunk after the image data (such a late tag is still applied, and checked, after decoding)."""
    w, h = im.size
    try:
        swap = Image.Image.getexif(im).get(ORIENTATION) in (5, 6, 7, 8)
    except Exception:  # an unreadable EXIF block is ignored here exactly as exif_transpose ignores it
        swap = False
    return (w, h) if swap else (h, w)


def decode_image(data: bytes, s: Settings, keep_alpha: bool) -> np.ndarray:
    im = _open(data, s)
    # C·H·W from the header, refused before a pixel is decoded: a 58 KB solid 4096² PNG decoded to
    # +528 MB before the old check after decoding refused it.
    h, w = _oriented_size(im)
    check_limit("image width", w, s.max_width, "max_width")
    check_limit("image height", h, s.max_height, "max_height")
    check_input_shape((_target(im, keep_alpha)[1], h, w), s)
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
        raise ImageTooLarge(f"the image decodes to more than {s.max_image_pixels:,} pixels, the most allowed "
                            "(a decompression bomb?)", limit="CONVLENS_MAX_IMAGE_PIXELS") from None
    except Exception as exc:  # Pillow's decoders raise many types on bad data; none of them is our bug
        raise BadUpload(f"the image is corrupt or truncated and could not be decoded: {exc}") from None


DEEP_MODES = ("I;16", "I;16B", "I;16L", "I;16N", "I")
BAND_ROWS = 256  # rows converted at a time from 16/32-bit integers, so no full-size float64 temporary


def _target(im: Image.Image, keep_alpha: bool) -> tuple[str, int]:
    """The mode the pixels are converted to, and its channel count: the one rule used both to refuse an
    image from its header and to convert it after decoding."""
    if im.mode in DEEP_MODES or im.mode == "F":
        return im.mode, 1
    has_alpha = _has_alpha(im)
    if im.mode in ("1", "L") or (im.mode == "LA" and not keep_alpha):
        return "L", 1
    if im.mode == "LA":
        return "LA", 2
    return ("RGBA", 4) if (keep_alpha and has_alpha) else ("RGB", 3)


def _has_alpha(im: Image.Image) -> bool:
    return im.mode in ("RGBA", "LA", "PA") or (im.mode in ("P", "L", "RGB") and "transparency" in im.info)


def _on_white(im: Image.Image) -> Image.Image:
    """An image with transparency, as every viewer shows it: over white. Dropping the alpha instead kept
    the colour hidden under it, which drawing programs leave black: a digit drawn in black on a
    transparent background became black on black, and the digits model saw an empty image."""
    white = Image.new("RGBA", im.size, (255, 255, 255, 255))
    return Image.alpha_composite(white, im.convert("RGBA"))


def _to_array(im: Image.Image, keep_alpha: bool) -> np.ndarray:
    """Pixels as float32 in [0, 1]: 8-bit modes over 255, 16-bit over 65535, float images as they are.
    Written into one preallocated (C, H, W) array: no float copies of the whole image on the way."""
    target, c = _target(im, keep_alpha)
    if target == "F":
        return np.asarray(im, dtype=np.float32)[None]
    if target in DEEP_MODES:
        deep = np.asarray(im)  # (H, W) uint16 or int32
        if deep.min() < 0 or deep.max() > 65535:
            raise BadUpload("32-bit integer images are not supported; save as 8- or 16-bit")
        out = np.empty((1, *deep.shape), np.float32)
        for r in range(0, deep.shape[0], BAND_ROWS):  # float64 division, rounded once to float32
            out[0, r:r + BAND_ROWS] = deep[r:r + BAND_ROWS] / 65535.0
        return out
    if not keep_alpha and _has_alpha(im):
        im = _on_white(im)
    pixels = np.asarray(im.convert(target))  # (H, W) or (H, W, C) uint8
    out = np.empty((c, *pixels.shape[:2]), np.float32)  # (C, H, W)
    np.divide(pixels.reshape(*pixels.shape[:2], c).transpose(2, 0, 1), np.float32(255), out=out)
    return out
