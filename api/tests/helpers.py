"""Helpers of the API tests: real support images, documents made of them, fake predictors, a local image server."""

import base64
import io
import json
import random
import threading
import time
from collections.abc import Sequence
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import numpy as np
from PIL import Image

from text_recognizer.predictors import Line, Prediction, Word
from text_recognizer.predictors.line import best_shipped_dataset

SUPPORT_DIRNAME = Path(__file__).resolve().parents[2] / "text_recognizer" / "tests" / "support"
CHARACTER_IMAGES = sorted((SUPPORT_DIRNAME / "emnist").glob("*.png"))
# The line mode serves the best shipped line model, so its test lines are from that model's data set.
LINE_SUPPORT_DIRNAME = SUPPORT_DIRNAME / best_shipped_dataset()
_PARAGRAPH_TEXTS = json.loads((SUPPORT_DIRNAME / "iam_paragraphs" / "texts.json").read_text())
PARAGRAPH_IMAGE = SUPPORT_DIRNAME / "iam_paragraphs" / sorted(_PARAGRAPH_TEXTS)[0]
PARAGRAPH_NUM_LINES = _PARAGRAPH_TEXTS[PARAGRAPH_IMAGE.name].count("\n") + 1
# Whole scanned pages (1240x1771): the scan as IAM gives it and a binarized one.
PAGE_SCAN = SUPPORT_DIRNAME / "iam_pages" / "a01-014.jpg"
PAGE_BINARIZED = SUPPORT_DIRNAME / "iam_pages" / "a01-000x.png"
DOCUMENT_PAGES = (PAGE_BINARIZED, PAGE_SCAN, PARAGRAPH_IMAGE)  # the pages of `pdf_of()`'s 3-page PDF, in order


def expected_character(path: Path) -> str:
    return path.stem.split("_")[1]  # upper_A.png -> A


def line_texts() -> dict[Path, str]:
    """Each support line image and its text."""
    texts = json.loads((LINE_SUPPORT_DIRNAME / "texts.json").read_text())
    return {LINE_SUPPORT_DIRNAME / name: text for name, text in texts.items()}


def data_url(data: bytes, mime: str = "image/png") -> str:
    return f"data:{mime};base64," + base64.b64encode(data).decode()


def pdf_of(paths: Sequence[Path] = DOCUMENT_PAGES, dpi: int = 300) -> bytes:
    """A PDF of one page per image, each image filling its page at `dpi` (read at 300 dpi: as many pixels)."""
    images = [Image.open(path).convert("L") for path in paths]
    buffer = io.BytesIO()
    images[0].save(buffer, format="PDF", save_all=True, append_images=images[1:], resolution=dpi)
    return buffer.getvalue()


def tiff_of(paths: Sequence[Path], sixteen_bits: bool = False) -> bytes:
    """A multi-page TIFF of the images, in 16-bit greyscale if asked (as some scanners write)."""
    images = [Image.open(path).convert("L") for path in paths]
    if sixteen_bits:
        images = [Image.fromarray(np.asarray(image).astype(np.uint16) * 257) for image in images]
    buffer = io.BytesIO()
    images[0].save(buffer, format="TIFF", save_all=True, append_images=images[1:], compression="tiff_deflate")
    return buffer.getvalue()


def mutated(data: bytes, rng: random.Random) -> bytes:
    """`data` with a few bytes changed, cut out or put in, at random places."""
    mutated = bytearray(data)
    for _ in range(rng.randint(1, 8)):
        position = rng.randrange(len(mutated))
        roll = rng.random()
        if roll < 0.6:
            mutated[position] = rng.randrange(256)
        elif roll < 0.8:
            del mutated[position : position + rng.randint(1, 16)]
        else:
            mutated[position:position] = rng.randbytes(rng.randint(1, 16))
    return bytes(mutated)


class FakePredictor:
    """Answers "fake" at confidence 0.5 and keeps what it was given, and how many calls ever overlapped."""

    def __init__(self, delay: float = 0.0):
        self.images: list[np.ndarray] = []
        self.delay = delay
        self.running = 0
        self.max_running = 0
        self._count_lock = threading.Lock()

    def predict(self, image: np.ndarray) -> Prediction:
        with self._count_lock:
            self.running += 1
            self.max_running = max(self.max_running, self.running)
        time.sleep(self.delay)
        self.images.append(image)
        with self._count_lock:
            self.running -= 1
        return Prediction("fake", 0.5)


class FakePagePredictor:
    """Reads two lines of two words on any page, fast: a handwritten one (confidence 0.9) in its upper half and a
    printed one (0.3) in its lower; their text tells the page's size ("page 1240x1771"). Keeps the images given."""

    def __init__(self) -> None:
        self.images: list[np.ndarray] = []

    def predict(self, image: np.ndarray) -> Prediction:
        self.images.append(image)
        height, width = image.shape
        lines = []
        for top, kind, confidence in ((height // 5, "handwritten", 0.9), (height * 3 // 5, "printed", 0.3)):
            x, y, w, h = width // 10, top, width * 8 // 10, max(height // 10, 1)
            size = f"{width}x{height}"
            words = (Word((x, y, w // 3, h), "page", confidence), Word((x + w // 2, y, w // 2, h), size, confidence))
            lines.append(Line((x, y, w, h), " ".join(word.text for word in words), confidence, kind, words))
        return Prediction("\n".join(line.text for line in lines), 0.3, tuple(lines))


class ImageServer(ThreadingHTTPServer):
    """A local HTTP server for image_url tests: `routes` maps a path to (status, headers, body); `hits` the paths.

    A header given as None is left out; a body without Content-Length lasts until the connection closes.
    """

    daemon_threads = True

    def __init__(self) -> None:
        super().__init__(("127.0.0.1", 0), _ImageRequestHandler)
        self.routes: dict[str, tuple[int, dict[str, str | None], bytes]] = {}
        self.hits: list[str] = []
        self.delay = 0.0

    def url(self, path: str) -> str:
        return f"http://127.0.0.1:{self.server_port}{path}"


class _ImageRequestHandler(BaseHTTPRequestHandler):
    server: ImageServer

    def do_GET(self) -> None:  # noqa: N802 (the name http.server calls)
        self.server.hits.append(self.path)
        status, headers, body = self.server.routes.get(self.path, (404, {}, b"not found"))
        time.sleep(self.server.delay)
        self.send_response(status)
        for name, value in {"Content-Length": str(len(body)), **headers}.items():
            if value is not None:
                self.send_header(name, value)
        self.end_headers()
        try:
            self.wfile.write(body)
        except (BrokenPipeError, ConnectionResetError):
            pass  # the client stopped reading, as the API does past its size cap

    def log_message(self, format: str, *args: object) -> None:
        pass  # keep the test output clean
