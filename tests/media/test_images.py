"""Image inputs: references, base64, formats, orientation, limits and colour modes."""

from __future__ import annotations

import base64
import io
import struct
import zlib

import numpy as np
import numpy.typing as npt
import pytest
from PIL import Image

from cinefuse.errors import RequestError
from cinefuse.media.images import (
    MAX_IMAGE_BYTES,
    ImageReference,
    classify_image_reference,
    decode_base64_image,
    encode_png,
    load_image,
    sniff_image_format,
)

PARAM = "inputs.frameImages[0]"
W, H = 320, 304  # just above MIN_SIDE, small enough to keep every test fast


def _encode(image: Image.Image, fmt: str, **params: object) -> bytes:
    buffer = io.BytesIO()
    image.save(buffer, format=fmt, **params)
    return buffer.getvalue()


def _solid(mode: str, color: object, size: tuple[int, int] = (W, H)) -> Image.Image:
    return Image.new(mode, size, color)  # type: ignore[arg-type]


def _rejected(data: bytes, match: str) -> RequestError:
    with pytest.raises(RequestError, match=match) as info:
        load_image(data, PARAM)
    assert info.value.code == "invalidImage"
    assert info.value.parameter == PARAM
    return info.value


def _png_chunk(kind: bytes, body: bytes) -> bytes:
    return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body))


def _png_claiming(width: int, height: int) -> bytes:
    """A tiny PNG whose header claims a huge RGB canvas (a decompression bomb's opening)."""
    ihdr = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    idat = zlib.compress(b"\x00" * 1024)
    return b"\x89PNG\r\n\x1a\n" + _png_chunk(b"IHDR", ihdr) + _png_chunk(b"IDAT", idat) + _png_chunk(b"IEND", b"")


def _assert_color(array: npt.NDArray[np.uint8], rgb: tuple[int, int, int], tolerance: int = 0) -> None:
    assert array.dtype == np.uint8
    assert array.shape == (H, W, 3)
    diff = np.abs(array.astype(np.int16) - np.array(rgb, dtype=np.int16))
    assert int(diff.max()) <= tolerance, (array[0, 0], rgb)


# --- references ---------------------------------------------------------------------------


def test_uuid_reference_is_lower_cased() -> None:
    ref = classify_image_reference("3F2504E0-4F89-11D3-9A0C-0305E82C3301", PARAM)
    assert ref == ImageReference("uuid", "3f2504e0-4f89-11d3-9a0c-0305e82c3301")


@pytest.mark.parametrize("url", ["http://example.com/a.png", "HTTPS://example.com/a.png?x=1"])
def test_url_reference(url: str) -> None:
    assert classify_image_reference(url, PARAM) == ImageReference("url", url)


def test_data_uri_header_is_stripped() -> None:
    ref = classify_image_reference("data:image/png;base64,iVBORw0KGgo=", PARAM)
    assert ref == ImageReference("inline", "iVBORw0KGgo=")


def test_data_uri_with_parameters() -> None:
    ref = classify_image_reference("data:image/jpeg;name=a.jpg;base64,/9j/4AAQ", PARAM)
    assert ref == ImageReference("inline", "/9j/4AAQ")


def test_bare_base64() -> None:
    assert classify_image_reference("iVBORw0KGgo=", PARAM) == ImageReference("inline", "iVBORw0KGgo=")


@pytest.mark.parametrize(
    "value",
    [
        "",
        "ftp://example.com/a.png",
        "file:///etc/passwd",
        "http:///nohost.png",
        "http://[::1/a.png",
        "data:text/plain;base64,aGVsbG8=",
        "data:image/png,rawbytes",
        "not an image!",
        "http://example.com/" + "a" * 3000,
    ],
)
def test_bad_references_are_invalid_image(value: str) -> None:
    with pytest.raises(RequestError) as info:
        classify_image_reference(value, "inputs.referenceImages[2]")
    assert info.value.code == "invalidImage"
    assert info.value.parameter == "inputs.referenceImages[2]"


# --- base64 -------------------------------------------------------------------------------


def test_base64_round_trip() -> None:
    assert decode_base64_image(base64.b64encode(b"\x00\x01binary").decode(), PARAM) == b"\x00\x01binary"


@pytest.mark.parametrize("payload", ["", "abc", "ab$d", "aGVs bG8=", "aGVsbG8=="])
def test_bad_base64(payload: str) -> None:
    with pytest.raises(RequestError) as info:
        decode_base64_image(payload, PARAM)
    assert (info.value.code, info.value.parameter) == ("invalidImage", PARAM)


def test_base64_size_refused_before_decoding() -> None:
    # Not even valid base64 past the first character: the length alone must refuse it.
    payload = "A" * ((MAX_IMAGE_BYTES // 3 + 1) * 4 - 1) + "$"
    with pytest.raises(RequestError, match="larger than 20 MB") as info:
        decode_base64_image(payload, PARAM)
    assert info.value.parameter == PARAM


# --- formats ------------------------------------------------------------------------------


@pytest.mark.parametrize(("fmt", "tolerance"), [("PNG", 0), ("JPEG", 3), ("WEBP", 4), ("BMP", 0), ("GIF", 0)])
def test_each_format_decodes(fmt: str, tolerance: int) -> None:
    data = _encode(_solid("RGB", (200, 40, 40)), fmt, **({"lossless": True} if fmt == "WEBP" else {}))
    assert sniff_image_format(data) == fmt
    _assert_color(load_image(data, PARAM), (200, 40, 40), tolerance)


def test_gif_gives_first_frame() -> None:
    frames = [_solid("RGB", (255, 0, 0)), _solid("RGB", (0, 0, 255))]
    data = _encode(frames[0], "GIF", save_all=True, append_images=frames[1:], duration=100, loop=0)
    _assert_color(load_image(data, PARAM), (255, 0, 0))


def test_unsupported_format_is_refused() -> None:
    tiff = _encode(_solid("RGB", (1, 2, 3)), "TIFF")
    assert sniff_image_format(tiff) is None
    _rejected(tiff, "not a supported image")


def test_not_an_image() -> None:
    _rejected(b"hello, world", "not a supported image")


def test_empty_bytes() -> None:
    _rejected(b"", "not a supported image")


# --- orientation --------------------------------------------------------------------------


def _left_red_right_blue(width: int, height: int) -> Image.Image:
    image = Image.new("RGB", (width, height), (0, 0, 255))
    image.paste((255, 0, 0), (0, 0, width // 2, height))
    return image


def test_exif_orientation_6_is_applied() -> None:
    exif = Image.Exif()
    exif[0x0112] = 6  # stored sideways: display after turning 90 degrees clockwise
    data = _encode(_left_red_right_blue(400, 320), "JPEG", exif=exif, quality=95)
    array = load_image(data, PARAM)
    assert array.shape == (400, 320, 3)
    # Turned clockwise, the stored left half (red) becomes the top half.
    top, bottom = array[50, 160].astype(int), array[350, 160].astype(int)
    assert top[0] > 200 and top[2] < 50
    assert bottom[2] > 200 and bottom[0] < 50


def test_size_message_uses_oriented_dimensions() -> None:
    exif = Image.Exif()
    exif[0x0112] = 6
    data = _encode(_solid("RGB", (9, 9, 9), (350, 250)), "JPEG", exif=exif)
    _rejected(data, r"is 250x350; each side must be 300\.\.4000 px")


# --- limits -------------------------------------------------------------------------------


def test_too_small() -> None:
    _rejected(_encode(_solid("RGB", (0, 0, 0), (200, 200)), "PNG"), r"inputs\.frameImages\[0\] is 200x200")


def test_too_large() -> None:
    _rejected(_encode(_solid("L", 0, (4001, 300)), "PNG"), "is 4001x300")


def test_limits_are_inclusive() -> None:
    assert load_image(_encode(_solid("L", 7, (300, 4000)), "PNG"), PARAM).shape == (4000, 300, 3)


def test_too_many_bytes() -> None:
    data = _encode(_solid("RGB", (0, 0, 0)), "PNG")
    _rejected(data + b"\x00" * (MAX_IMAGE_BYTES + 1 - len(data)), "larger than 20 MB")


def test_decompression_bomb_header_is_refused() -> None:
    _rejected(_png_claiming(50_000, 50_000), "too many pixels")


def test_oversized_header_refused_before_decoding() -> None:
    # 5000x5000 is under PIL's own bomb limit; the pixel data is absent, so only a check
    # made before decoding can produce the size message.
    _rejected(_png_claiming(5000, 5000), "is 5000x5000")


def test_truncated_png() -> None:
    data = _encode(Image.effect_noise((W, H), 64).convert("RGB"), "PNG")
    _rejected(data[: len(data) // 2], "could not be decoded as PNG")


def test_truncated_jpeg() -> None:
    data = _encode(Image.effect_noise((W, H), 64).convert("RGB"), "JPEG")
    _rejected(data[: len(data) // 2], "could not be decoded as JPEG")


def test_corrupt_png() -> None:
    data = bytearray(_encode(Image.effect_noise((W, H), 64).convert("RGB"), "PNG"))
    middle = len(data) // 2
    data[middle : middle + 64] = bytes(64)
    _rejected(bytes(data), "could not be decoded")


def test_header_only() -> None:
    _rejected(b"\x89PNG\r\n\x1a\n", "could not be decoded as PNG")


# --- colour modes -------------------------------------------------------------------------


def test_rgba_composited_on_white() -> None:
    image = _solid("RGBA", (255, 0, 0, 255))
    image.paste((0, 0, 255, 0), (0, 0, W // 2, H))  # left half fully transparent
    image.paste((0, 0, 0, 128), (W // 2, 0, W, H // 2))  # top-right quarter half-transparent black
    array = load_image(_encode(image, "PNG"), PARAM)
    assert tuple(array[H - 1, 0]) == (255, 255, 255)
    assert tuple(array[H - 1, W - 1]) == (255, 0, 0)
    assert tuple(array[0, W - 1]) == (127, 127, 127)


def test_la_mode() -> None:
    _assert_color(load_image(_encode(_solid("LA", (80, 0)), "PNG"), PARAM), (255, 255, 255))


def test_grayscale() -> None:
    _assert_color(load_image(_encode(_solid("L", 80), "PNG"), PARAM), (80, 80, 80))


def test_bilevel() -> None:
    _assert_color(load_image(_encode(_solid("1", 1), "BMP"), PARAM), (255, 255, 255))


def test_palette() -> None:
    image = _solid("RGB", (10, 200, 30)).convert("P", palette=Image.Palette.ADAPTIVE, colors=4)
    assert image.mode == "P"
    _assert_color(load_image(_encode(image, "PNG"), PARAM), (10, 200, 30))


def test_palette_with_transparency() -> None:
    image = _solid("P", 0)
    image.putpalette([10, 200, 30, 0, 0, 0])
    image.paste(1, (0, 0, W, H // 2))
    array = load_image(_encode(image, "PNG", transparency=1), PARAM)
    assert tuple(array[0, 0]) == (255, 255, 255)
    assert tuple(array[H - 1, 0]) == (10, 200, 30)


def test_cmyk_jpeg() -> None:
    data = _encode(_solid("CMYK", (0, 255, 255, 0)), "JPEG", quality=95)
    assert Image.open(io.BytesIO(data)).mode == "CMYK"
    _assert_color(load_image(data, PARAM), (255, 0, 0), tolerance=3)


def test_sixteen_bit_grayscale_is_scaled_not_clipped() -> None:
    image = Image.fromarray(np.full((H, W), 0x8080, dtype=np.uint16))
    data = _encode(image, "PNG")
    assert Image.open(io.BytesIO(data)).mode.startswith("I")
    _assert_color(load_image(data, PARAM), (128, 128, 128))


def test_result_is_writable_rgb() -> None:
    array = load_image(_encode(_solid("RGB", (1, 2, 3)), "PNG"), PARAM)
    array[0, 0] = (9, 9, 9)  # callers may draw on it
    assert array.flags.c_contiguous


# --- storing ------------------------------------------------------------------------------


def test_encode_png_round_trip() -> None:
    rng = np.random.default_rng(0)
    array = rng.integers(0, 256, (H, W, 3), dtype=np.uint8)
    data = encode_png(array)
    assert sniff_image_format(data) == "PNG"
    assert np.array_equal(load_image(data, PARAM), array)


def test_encode_png_rejects_wrong_shape() -> None:
    with pytest.raises(ValueError, match="uint8"):
        encode_png(np.zeros((4, 4), dtype=np.uint8))
