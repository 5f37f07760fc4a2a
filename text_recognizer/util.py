"""Reading images from the places users keep them: files, raw bytes, base64 data URLs, arrays.

>>> from text_recognizer.util import read_image
>>> read_image("text_recognizer/tests/support/emnist/a.png").shape
(28, 28)
"""

import base64
import binascii
import contextlib
import hashlib
import io
import json
import os
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
from PIL import Image, UnidentifiedImageError

# A guard against decompression bombs: no page scan the product reads comes near this many pixels.
MAX_IMAGE_PIXELS = 40_000_000


class ImageError(ValueError):
    """The input is not an image the product can read."""


def read_image(source: str | Path | bytes | np.ndarray) -> np.ndarray:
    """Greyscale uint8 (H, W) array from a file path, encoded image bytes, a `data:image/...;base64,` URL, or array."""
    if isinstance(source, np.ndarray):
        return _from_array(source)
    if isinstance(source, bytes):
        return decode_image(source)
    if isinstance(source, str) and source.startswith("data:"):
        return decode_image(decode_data_url(source))
    path = Path(source)
    if not path.is_file():
        raise ImageError(f"No image file at {path}")
    return decode_image(path.read_bytes())


def decode_data_url(data_url: str) -> bytes:
    """The bytes of a base64 `data:` URL."""
    header, sep, payload = data_url.partition(",")
    if not sep or not header.startswith("data:") or not header.endswith(";base64"):
        raise ImageError("Expected a data URL of the form 'data:image/<type>;base64,<data>'")
    try:
        return base64.b64decode(payload, validate=True)
    except (binascii.Error, ValueError) as e:
        raise ImageError(f"Malformed base64 in data URL: {e}") from e


def decode_image(data: bytes) -> np.ndarray:
    """Decode PNG/JPEG/... bytes to a greyscale uint8 array, refusing empty, unreadable and oversized images."""
    if not data:
        raise ImageError("Empty image data")
    try:
        with Image.open(io.BytesIO(data)) as image:
            width, height = image.size
            if width * height > MAX_IMAGE_PIXELS:
                raise ImageError(f"Image of {width}x{height} pixels is larger than {MAX_IMAGE_PIXELS} pixels")
            return _from_array(np.asarray(image.convert("L")))
    except (UnidentifiedImageError, OSError, Image.DecompressionBombError) as e:
        raise ImageError(f"Not a readable image: {e}") from e


def _from_array(array: np.ndarray) -> np.ndarray:
    if array.ndim == 3 and array.shape[-1] in (1, 3, 4):
        array = array[..., :3].mean(axis=-1) if array.shape[-1] >= 3 else array[..., 0]
    if array.ndim != 2 or 0 in array.shape:
        raise ImageError(f"Expected a non-empty greyscale or colour image, got an array of shape {array.shape}")
    if array.dtype != np.uint8:
        if not np.issubdtype(array.dtype, np.number):
            raise ImageError(f"Expected a numeric image, got dtype {array.dtype}")
        # Floats in [0, 1] are scaled to [0, 255]; anything else is taken as already on that scale.
        scale = 255.0 if array.dtype.kind == "f" and array.max(initial=0) <= 1.0 else 1.0
        array = np.clip(np.asarray(array, dtype=np.float64) * scale, 0, 255).round().astype(np.uint8)
    return array


def sha256_of(path: Path) -> str:
    """Hex SHA-256 of a file, read in chunks."""
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


@contextlib.contextmanager
def atomic_path(path: Path) -> Iterator[Path]:
    """A new, unique temporary file beside `path` to write; renamed to `path` when the block succeeds, removed when it
    fails. So `path` is never half-written, and two writers never share a temporary file.

        >>> with atomic_path(Path("cache.h5")) as partial:
        ...     write_the_cache(partial)

    The temporary name ends in `path`'s own name (Keras wants `.weights.h5`); a file replaced keeps its mode.
    """
    path.parent.mkdir(parents=True, exist_ok=True)
    descriptor, name = tempfile.mkstemp(dir=path.parent, prefix=".partial-", suffix=f"-{path.name}")
    os.close(descriptor)
    partial = Path(name)
    try:
        yield partial
        os.chmod(partial, path.stat().st_mode & 0o777 if path.exists() else 0o644)
        os.replace(partial, path)
    except BaseException:
        partial.unlink(missing_ok=True)
        raise


def write_json(path: Path, data: Any) -> None:
    """Write `data` as indented JSON to `path`, atomically (see `atomic_path`)."""
    with atomic_path(path) as partial:
        partial.write_text(json.dumps(data, indent=2) + "\n")
