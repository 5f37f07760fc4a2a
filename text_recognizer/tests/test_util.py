"""Image reading: every accepted form gives the same pixels, and bad input gets an ImageError."""

import base64
import io
import struct
import zlib

import numpy as np
import pytest
from PIL import Image

from text_recognizer.util import ImageError, decode_frames, read_image


def _png(array: np.ndarray) -> bytes:
    buffer = io.BytesIO()
    Image.fromarray(array).save(buffer, format="PNG")
    return buffer.getvalue()


@pytest.fixture
def image() -> np.ndarray:
    return np.random.default_rng(0).integers(0, 256, (12, 20), dtype=np.uint8)


def test_path_bytes_data_url_and_array_agree(image: np.ndarray, tmp_path) -> None:
    data = _png(image)
    (tmp_path / "x.png").write_bytes(data)
    data_url = "data:image/png;base64," + base64.b64encode(data).decode()
    for source in (tmp_path / "x.png", str(tmp_path / "x.png"), data, data_url, image):
        np.testing.assert_array_equal(read_image(source), image)


def test_colour_and_float_arrays_become_grey_uint8(image: np.ndarray) -> None:
    rgb = np.repeat(image[..., None], 3, axis=2)
    np.testing.assert_array_equal(read_image(rgb), image)
    np.testing.assert_array_equal(read_image(image / 255.0), image)


@pytest.mark.parametrize(
    "source, message",
    [
        (b"", "Empty"),
        (b"not an image at all", "Not a readable image"),
        ("data:image/png;base64,@@@", "Malformed base64"),
        ("data:image/png,abc", "data URL"),
        ("/no/such/file.png", "No image file"),
        (np.zeros((0, 5), np.uint8), "non-empty"),
        (np.array([["a"]]), "numeric"),
    ],
)
def test_bad_input_is_an_image_error(source: object, message: str) -> None:
    with pytest.raises(ImageError, match=message):
        read_image(source)  # type: ignore[arg-type]


def test_decompression_bomb_is_refused() -> None:
    buffer = io.BytesIO()
    Image.new("L", (10_000, 10_000)).save(buffer, format="PNG")  # 100 MP of zeros compress to ~100 KB
    with pytest.raises(ImageError, match="larger than"):
        read_image(buffer.getvalue())


def _encode(image: Image.Image, format: str, **params: object) -> bytes:
    buffer = io.BytesIO()
    image.save(buffer, format=format, **params)
    return buffer.getvalue()


def _chunk(kind: bytes, data: bytes) -> bytes:
    """A PNG chunk, with its length and CRC."""
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))


def _png_with_chunk(kind: bytes, data: bytes) -> bytes:
    """A small white PNG with one more chunk after its header (IHDR ends at byte 33)."""
    png = _encode(Image.new("L", (4, 4), 255), "PNG")
    return png[:33] + _chunk(kind, data) + png[33:]


def _png_with_idat_split_by(middle: bytes) -> bytes:
    """A small PNG whose image data come in two chunks with `middle` between them."""
    png = _encode(Image.new("L", (4, 4), 255), "PNG")
    start = png.index(b"IDAT") - 4
    length = struct.unpack(">I", png[start : start + 4])[0]
    data = png[start + 8 : start + 8 + length]
    return png[:start] + _chunk(b"IDAT", data[:5]) + middle + _chunk(b"IDAT", data[5:]) + _chunk(b"IEND", b"")


@pytest.mark.parametrize(
    "data, message",
    [
        # Text and colour-profile chunks inflating past Pillow's 1 MB limit (ValueError).
        (_png_with_chunk(b"zTXt", b"Comment\0\0" + zlib.compress(b"a" * 2_000_000)), "too large"),
        (_png_with_chunk(b"iCCP", b"icc\0\0" + zlib.compress(b"\0" * 2_000_000)), "too large"),
        (_png_with_idat_split_by(b"\0" * 12), "broken PNG"),  # SyntaxError, while loading
        (b"P5\n2\xbe 2\n255\n\0\0\0\0", "invalid literal"),  # a PPM with a bad width (ValueError)
        (b"\xff\x4f\xff\x51\x00\x01" + b"\0" * 40, "marker length"),  # a JPEG 2000 SIZ marker cut short (ValueError)
    ],
    ids=["ztxt-bomb", "iccp-bomb", "png-broken-chunk", "ppm-bad-width", "j2k-short-marker"],
)
def test_malformed_images_are_image_errors(data: bytes, message: str) -> None:
    with pytest.raises(ImageError, match=f"(?i){message}"):
        read_image(data)


def test_unknown_formats_are_named_without_memory_addresses() -> None:
    with pytest.raises(ImageError) as info:
        read_image(b"not an image at all")
    assert "0x" not in str(info.value) and "object at" not in str(info.value)


def test_transparent_background_reads_as_white_paper() -> None:
    rgba = np.zeros((6, 8, 4), np.uint8)  # transparent black everywhere...
    rgba[2:4, 3:5] = (0, 0, 0, 255)  # ...but an opaque black stroke
    rgba[0, 0] = (0, 0, 0, 128)  # and a half-transparent black pixel
    grey = read_image(_encode(Image.fromarray(rgba), "PNG"))
    expected = np.full((6, 8), 255, np.uint8)
    expected[2:4, 3:5] = 0
    expected[0, 0] = 127
    np.testing.assert_allclose(grey, expected, atol=1)


def test_a_gif_with_a_transparent_colour_reads_it_as_paper() -> None:
    palette = Image.new("P", (4, 4), 1)
    palette.putpalette([0, 0, 0, 0, 0, 0])  # both colours black, colour 1 transparent
    palette.putpixel((1, 1), 0)
    grey = read_image(_encode(palette, "GIF", transparency=1))
    expected = np.full((4, 4), 255, np.uint8)
    expected[1, 1] = 0
    np.testing.assert_array_equal(grey, expected)


def test_16_bit_pngs_are_scaled_not_clipped() -> None:
    values = np.array([[0, 257, 32896, 65535]], np.uint16)
    np.testing.assert_array_equal(read_image(_encode(Image.fromarray(values), "PNG")), [[0, 1, 128, 255]])


@pytest.mark.parametrize(
    "values, expected",
    [
        (np.array([[0, 400_000, 1_000_000]], np.int32), [[0, 102, 255]]),  # beyond 8 bits: stretched to the maximum
        (np.array([[0, 100, 255]], np.int32), [[0, 100, 255]]),  # 8-bit values in a 32-bit image: as they are
        (np.array([[0.0, 0.5, 1.0]], np.float32), [[0, 128, 255]]),  # floats within 0..1: fractions of white
        (np.array([[0.0, 2000.0, 4000.0]], np.float32), [[0, 128, 255]]),
        (np.array([[-1.0, 0.0, 1.0]], np.float32), [[0, 128, 255]]),  # negative: stretched from the minimum
    ],
)
def test_32_bit_tiffs_are_scaled_not_clipped(values: np.ndarray, expected: list) -> None:
    np.testing.assert_array_equal(read_image(_encode(Image.fromarray(values), "TIFF")), expected)


@pytest.mark.parametrize("orientation, turn", [(3, lambda a: np.rot90(a, 2)), (6, lambda a: np.rot90(a, -1)),
                                               (8, np.rot90), (2, np.fliplr)])  # fmt: skip
def test_exif_orientation_is_applied(image: np.ndarray, orientation: int, turn) -> None:
    exif = Image.Exif()
    exif[0x0112] = orientation  # the Orientation tag
    np.testing.assert_array_equal(read_image(_encode(Image.fromarray(image), "PNG", exif=exif)), turn(image))


def test_an_animated_gif_is_read_from_its_first_frame() -> None:
    first = np.full((5, 7), 255, np.uint8)
    first[1:4, 2] = 0
    second = np.zeros((5, 7), np.uint8)
    frames = [Image.fromarray(frame).convert("P") for frame in (first, second)]
    data = _encode(frames[0], "GIF", save_all=True, append_images=frames[1:], duration=100, loop=0)
    with Image.open(io.BytesIO(data)) as gif:
        assert getattr(gif, "n_frames", 1) == 2
    np.testing.assert_array_equal(read_image(data), first)
    # Even when pages are asked for, an animation's further frames are not pages.
    assert len(decode_frames(data, max_frames=10)) == 1


def test_a_multi_page_tiff_is_one_image_or_its_pages() -> None:
    pages = [Image.fromarray(np.full((4, 6), value, np.uint8)) for value in (10, 20, 30)]
    data = _encode(pages[0], "TIFF", save_all=True, append_images=pages[1:], dpi=(200, 200))
    assert int(read_image(data)[0, 0]) == 10 and len(decode_frames(data)) == 1
    read = decode_frames(data, max_frames=3)
    assert [(int(page[0, 0]), dpi) for page, dpi in read] == [(10, 200.0), (20, 200.0), (30, 200.0)]
    with pytest.raises(ImageError, match="has 3 pages; a document may have at most 2 pages"):
        decode_frames(data, max_frames=2)
