"""Image inputs: classify a reference, decode it, and turn it into an RGB array.

An image input (``imageUpload.image``, ``inputs.frameImages[i]``, ``inputs.referenceImages[i]``)
is one of (docs/api.md 3.1, 3.2):

* the UUID of an image uploaded earlier,
* an ``http://`` / ``https://`` URL (fetched through the outbound guard, not here),
* a data URI ``data:image/<type>;base64,<payload>`` or bare base64.

Accepted formats are PNG, JPEG, WEBP, BMP and GIF (first frame); each side must be
``MIN_SIDE..MAX_SIDE`` pixels after EXIF orientation, and the encoded file at most
``MAX_IMAGE_BYTES``. Every rejection is ``InvalidImage`` (code
``invalidImage``) naming the parameter path the caller passes in, so the same checks serve
the pre-acknowledgement validation and the run-time fetch (which re-raises as
``InputImageError``).

Decoded images are RGB ``uint8`` arrays of shape ``(height, width, 3)``; transparency is
composited over white (see ``ALPHA_BACKGROUND``).
"""

from __future__ import annotations

import base64
import binascii
import io
import re
from dataclasses import dataclass
from typing import Literal
from urllib.parse import urlsplit

import numpy as np
import numpy.typing as npt
from PIL import ExifTags, Image, ImageOps, UnidentifiedImageError

from cinefuse.errors import InvalidImage, RequestError

MIN_SIDE = 300  # pixels, per side, after EXIF orientation (docs/api.md 3.2)
MAX_SIDE = 4000
MAX_IMAGE_BYTES = 20 * 1024 * 1024  # encoded size ("at most 20 MB")
MAX_URL_LENGTH = 2048  # longer "URLs" are refused rather than fetched

# Transparent pixels become white: a cut-out subject on a transparent canvas reads as
# a subject on a plain backdrop, which is what a "frame" or "reference" image means.
ALPHA_BACKGROUND = 255

# Stored images are written once and read by every job that names them; zlib's usual
# level is a fair trade between size and encoding time for 16 MP at most.
PNG_COMPRESS_LEVEL = 6

ReferenceKind = Literal["uuid", "url", "inline"]

_UUID_RE = re.compile(r"[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}")
_URL_SCHEME_RE = re.compile(r"^https?://", re.IGNORECASE)
# data:image/<subtype>[;param=value]*;base64,<payload>; the declared subtype is not trusted,
# the payload is sniffed.
_DATA_URI_RE = re.compile(r"^data:image/[a-z0-9.+-]+(?:;[^;,]+=[^;,]*)*;base64,", re.IGNORECASE)
_BASE64_RE = re.compile(r"[A-Za-z0-9+/]+={0,2}")

# PIL format names by magic bytes; only these decoders are ever handed the data.
SUPPORTED_FORMATS = ("PNG", "JPEG", "WEBP", "BMP", "GIF")
_EXIF_ORIENTATION = ExifTags.Base.Orientation
_SWAPPING_ORIENTATIONS = frozenset({5, 6, 7, 8})  # the ones that turn the picture by 90 degrees
_SIXTEEN_BIT_GRAY_MODES = frozenset({"I;16", "I;16L", "I;16B", "I;16N", "I"})
_SIXTEEN_BIT_TO_EIGHT = 257  # 65535 / 255


@dataclass(frozen=True)
class ImageReference:
    """What an image input names. ``value``: the lower-case UUID, the URL as given, or the
    raw base64 payload (data-URI header stripped, not yet decoded)."""

    kind: ReferenceKind
    value: str


def classify_image_reference(value: str, parameter: str) -> ImageReference:
    """Tell a UUID, an http(s) URL and inline base64 apart; nothing is fetched or decoded.

    Raises ``InvalidImage`` naming ``parameter`` for anything else (other URL schemes,
    empty strings, text that is not base64).
    """
    if not value:
        raise InvalidImage(f"Image at {parameter} is empty.", parameter=parameter)
    if _UUID_RE.fullmatch(value):
        return ImageReference("uuid", value.lower())
    if _URL_SCHEME_RE.match(value):
        if len(value) > MAX_URL_LENGTH:
            raise InvalidImage(
                f"Image URL at {parameter} is longer than {MAX_URL_LENGTH} characters.", parameter=parameter
            )
        try:
            host = urlsplit(value).hostname
        except ValueError as exc:  # e.g. an unclosed "[" of an IPv6 literal
            raise InvalidImage(f"Image URL at {parameter} is malformed: {exc}.", parameter=parameter) from exc
        if not host:
            raise InvalidImage(f"Image URL at {parameter} has no host.", parameter=parameter)
        return ImageReference("url", value)
    header = _DATA_URI_RE.match(value)
    if header:
        return ImageReference("inline", value[header.end() :])
    if value.lower().startswith("data:"):
        raise InvalidImage(
            f"Image at {parameter} is a data URI but not of the form data:image/<type>;base64,<data>.",
            parameter=parameter,
        )
    if _BASE64_RE.fullmatch(value):
        return ImageReference("inline", value)
    raise InvalidImage(
        f"Image at {parameter} must be an image UUID, an http(s) URL, a data URI or base64 data.", parameter=parameter
    )


def decode_base64_image(payload: str, parameter: str) -> bytes:
    """Decode standard-alphabet base64 strictly (no whitespace, correct padding).

    The decoded size is estimated from the text length and refused above
    ``MAX_IMAGE_BYTES`` before any decoding, so an oversized payload costs no memory.
    """
    if not payload:
        raise InvalidImage(f"Image at {parameter} has no base64 data.", parameter=parameter)
    estimated = len(payload) * 3 // 4 - payload[-2:].count("=")
    if estimated > MAX_IMAGE_BYTES:
        raise InvalidImage(_too_many_bytes(parameter), parameter=parameter)
    try:
        return base64.b64decode(payload, validate=True)
    except (binascii.Error, ValueError) as exc:
        raise InvalidImage(f"Image at {parameter} is not valid base64: {exc}.", parameter=parameter) from exc


def sniff_image_format(data: bytes) -> str | None:
    """The PIL format name (one of ``SUPPORTED_FORMATS``) from the magic bytes, else None."""
    if data.startswith(b"\x89PNG\r\n\x1a\n"):
        return "PNG"
    if data.startswith(b"\xff\xd8\xff"):
        return "JPEG"
    if len(data) >= 12 and data[:4] == b"RIFF" and data[8:12] == b"WEBP":
        return "WEBP"
    if data.startswith(b"BM"):
        return "BMP"
    if data.startswith((b"GIF87a", b"GIF89a")):
        return "GIF"
    return None


def load_image(data: bytes, parameter: str) -> npt.NDArray[np.uint8]:
    """Decode an encoded image into an RGB ``uint8`` array of shape ``(H, W, 3)``.

    EXIF orientation is applied, so the array is the picture as a viewer shows it.
    Dimensions are checked from the header before any pixel is decoded (decompression-bomb
    protection). Palette, grayscale (8 and 16 bit), CMYK and alpha modes become RGB;
    alpha is composited over white. GIF and animated WEBP give their first frame.
    """
    if len(data) > MAX_IMAGE_BYTES:
        raise InvalidImage(_too_many_bytes(parameter), parameter=parameter)
    image_format = sniff_image_format(data)
    if image_format is None:
        raise InvalidImage(
            f"Image at {parameter} is not a supported image (PNG, JPEG, WEBP, BMP or GIF).", parameter=parameter
        )
    try:
        # formats=[...] keeps PIL from probing the bytes with every other decoder it has.
        image = Image.open(io.BytesIO(data), formats=[image_format])
    except Image.DecompressionBombError as exc:
        raise InvalidImage(f"Image at {parameter} declares too many pixels: {exc}", parameter=parameter) from exc
    except (UnidentifiedImageError, OSError, SyntaxError, ValueError) as exc:
        raise _undecodable(parameter, image_format, exc) from exc
    with image:
        # The side rule is the same for width and height, so checking the stored size is
        # checking the oriented size; it happens before load() so that a header claiming a
        # huge canvas is refused without allocating it.
        width, height = _display_size(image)
        if not (MIN_SIDE <= width <= MAX_SIDE and MIN_SIDE <= height <= MAX_SIDE):
            raise InvalidImage(
                f"Image at {parameter} is {width}x{height}; each side must be {MIN_SIDE}..{MAX_SIDE} px.",
                parameter=parameter,
            )
        try:
            image.load()
            ImageOps.exif_transpose(image, in_place=True)
        except (OSError, SyntaxError, ValueError, EOFError) as exc:
            raise _undecodable(parameter, image_format, exc) from exc
        return _to_rgb(image)


def encode_png(array: npt.NDArray[np.uint8]) -> bytes:
    """Encode an RGB ``uint8`` array of shape ``(H, W, 3)`` as PNG (how images are stored)."""
    if array.dtype != np.uint8 or array.ndim != 3 or array.shape[2] != 3:
        raise ValueError(f"expected a uint8 (H, W, 3) array, got {array.dtype} {array.shape}")
    buffer = io.BytesIO()
    Image.fromarray(array).save(buffer, format="PNG", compress_level=PNG_COMPRESS_LEVEL)
    return buffer.getvalue()


def _display_size(image: Image.Image) -> tuple[int, int]:
    """Width and height as shown after EXIF orientation, read without decoding pixels.

    Only EXIF already parsed with the header is consulted (JPEG and WEBP keep it in front
    of the pixels); PNG's ``getexif()`` would decode the whole image to look further, which
    is what this check must not do, so such a PNG reports its stored size.
    """
    width, height = image.size
    raw = image.info.get("exif")
    if isinstance(raw, bytes) and raw:
        exif = Image.Exif()
        try:
            exif.load(raw)
        except (OSError, SyntaxError, ValueError, KeyError, EOFError):
            # Unreadable EXIF: report the stored size; decoding decides whether it is fatal.
            return width, height
        if exif.get(_EXIF_ORIENTATION) in _SWAPPING_ORIENTATIONS:
            return height, width
    return width, height


def _to_rgb(image: Image.Image) -> npt.NDArray[np.uint8]:
    mode = image.mode
    if mode in _SIXTEEN_BIT_GRAY_MODES:
        # convert("RGB") would clip 16-bit values at 255; scale to 8 bits instead.
        gray = np.asarray(image, dtype=np.uint32)
        gray8 = ((gray + _SIXTEEN_BIT_TO_EIGHT // 2) // _SIXTEEN_BIT_TO_EIGHT).astype(np.uint8)
        return np.ascontiguousarray(np.repeat(gray8[:, :, None], 3, axis=2))
    # "transparency" in info is a PNG/GIF colour key (tRNS): one value or palette entry
    # that is see-through, which convert("RGBA") turns into alpha.
    has_alpha = mode in ("RGBA", "LA", "PA", "RGBa", "La") or "transparency" in image.info
    if has_alpha:
        rgba = np.array(image.convert("RGBA"), dtype=np.uint32)
        alpha = rgba[:, :, 3:4]
        # Integer "over" compositing with rounding: out = c*a + bg*(1-a), a in 0..255.
        blended = (rgba[:, :, :3] * alpha + ALPHA_BACKGROUND * (255 - alpha) + 127) // 255
        return np.ascontiguousarray(blended.astype(np.uint8))
    rgb = image if mode == "RGB" else image.convert("RGB")
    # np.array (not asarray) so callers get a writable array of their own.
    return np.array(rgb, dtype=np.uint8)


def _too_many_bytes(parameter: str) -> str:
    return f"Image at {parameter} is larger than {MAX_IMAGE_BYTES // (1024 * 1024)} MB."


def _undecodable(parameter: str, image_format: str, exc: BaseException) -> RequestError:
    return InvalidImage(
        f"Image at {parameter} could not be decoded as {image_format} (corrupt or truncated): {exc}",
        parameter=parameter,
    )
