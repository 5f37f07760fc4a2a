"""Reading images from the places users keep them: files, raw bytes, base64 data URLs, arrays.

>>> from text_recognizer.util import read_image
>>> read_image("text_recognizer/tests/support/emnist/lower_a.png").shape
(28, 28)
"""

import base64
import binascii
import contextlib
import hashlib
import io
import json
import os
import re
import struct
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
from PIL import Image, ImageOps, UnidentifiedImageError

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
    """Decode PNG/JPEG/... bytes to a greyscale uint8 array, refusing empty, unreadable and oversized images.

    The image is read as it is meant to be seen: turned as its EXIF orientation says, transparent parts on white
    paper, more than 8 bits a pixel scaled to 8 (see `_to_8_bits`). An animated or multi-page image (GIF, WebP, APNG,
    TIFF) is read from its first frame.
    """
    return decode_frames(data)[0][0]


def decode_frames(
    data: bytes, max_frames: int = 1, max_pixels: int = MAX_IMAGE_PIXELS
) -> list[tuple[np.ndarray, float | None]]:
    """Each page of encoded image bytes, read as `decode_image` reads one, with the resolution (dpi) the file states.

    With `max_frames` 1, only the first frame is read; with more, every page of a multi-page TIFF (more than
    `max_frames` is an ImageError). Other formats' further frames are an animation's, not pages: only the first is read.
    """
    if not data:
        raise ImageError("Empty image data")
    try:
        with Image.open(io.BytesIO(data)) as image:
            count = getattr(image, "n_frames", 1) if max_frames > 1 and image.format == "TIFF" else 1
            if count > max_frames:
                raise ImageError(f"The image has {count} pages; a document may have at most {max_frames} pages")
            frames = []
            for index in range(count):
                image.seek(index)
                width, height = image.size
                if width * height > max_pixels:
                    where = f"Page {index + 1} of the image" if count > 1 else "Image"
                    raise ImageError(f"{where} of {width}x{height} pixels is larger than {max_pixels} pixels")
                frames.append((_from_array(_greyscale(ImageOps.exif_transpose(image))), _dpi(image)))
            return frames
    except ImageError:
        raise
    except UnidentifiedImageError as e:  # its message shows the buffer's address, which tells a reader nothing
        raise ImageError("Not a readable image: not an image format Pillow knows") from e
    except Image.DecompressionBombError as e:
        raise ImageError(f"Not a readable image: {e}") from e
    # Pillow's readers raise all of these on corrupt input: OSError (truncated), SyntaxError (bad header), ValueError
    # (a chunk inflating past Pillow's limit), EOFError, struct.error, ...; none is a fault of the server.
    except (OSError, SyntaxError, ValueError, EOFError, IndexError, KeyError, TypeError, struct.error) as e:
        raise ImageError(f"Not a readable image: {without_addresses(str(e))}") from e


def _dpi(image: Image.Image) -> float | None:
    """The horizontal resolution the file states, if it is a plausible one (files often say 1 or 72 by default);
    rounded to a tenth, as PNG stores it per metre."""
    dpi = image.info.get("dpi")
    try:
        value = float(dpi[0]) if dpi else 0.0
    except (TypeError, ValueError, IndexError):
        return None
    return round(value, 1) if 100 <= value <= 2400 else None


def _greyscale(image: Image.Image) -> np.ndarray:
    """A decoded image's pixels as greyscale, alpha composited onto white: black ink on a transparent background
    reads as ink on paper, not as black on black."""
    if image.mode in ("I", "I;16", "I;16B", "I;16L", "I;16N", "F"):
        return _to_8_bits(np.asarray(image), image.mode)
    if image.has_transparency_data:
        rgba = image.convert("RGBA")
        image = Image.alpha_composite(Image.new("RGBA", rgba.size, "white"), rgba)
    return np.asarray(image.convert("L"))


def _to_8_bits(pixels: np.ndarray, mode: str) -> np.ndarray:
    """Greyscale pixels of more than 8 bits scaled (not clipped) to uint8: 16-bit ones over their full range; 32-bit
    integers and floats as 8-bit values when they lie within 0..255 (floats as fractions within 0..1), else
    stretched from 0 (or their minimum, when negative) to their maximum."""
    values = pixels.astype(np.float32)  # float32, in place from here: a 40-megapixel scan is 160 MB of them
    if mode.startswith("I;16"):
        low, high = 0.0, 65535.0
    else:
        np.nan_to_num(values, copy=False, nan=0.0, posinf=0.0, neginf=0.0)
        low, high = min(float(values.min()), 0.0), float(values.max())
        if mode == "F" and low >= 0 and high <= 1:
            high = 1.0
        elif low >= 0 and high <= 255:
            low, high = 0.0, 255.0
    values -= low
    values *= 255 / max(high - low, 1e-12)
    return np.rint(values, out=values).astype(np.uint8)


def without_addresses(message: str) -> str:
    """A message with object reprs' memory addresses cut (`<_io.BytesIO object at 0x7f...>` -> `<_io.BytesIO>`)."""
    return re.sub(r"<([\w.]+) object at 0x[0-9a-fA-F]+>", r"<\1>", message)


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
