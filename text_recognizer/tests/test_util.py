"""Image reading: every accepted form gives the same pixels, and bad input gets an ImageError."""

import base64
import io

import numpy as np
import pytest
from PIL import Image

from text_recognizer.util import ImageError, read_image


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
