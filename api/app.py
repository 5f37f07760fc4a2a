"""The prediction web API: handwriting image in, text and confidence out.

    python api/app.py                                          # serves on port 8000 ($PORT to change)
    gunicorn -b 0.0.0.0:8000 -k gevent --keep-alive 5 'api.app:create_app()'  # in production (api/Dockerfile)
    curl -s localhost:8000/v1/predict -H 'Content-Type: application/json' -d "{\"mode\": \"character\",
        \"image\": \"data:image/png;base64,$(base64 -w0 text_recognizer/tests/support/emnist/upper_A.png)\"}"
    # {"conf": 0.99..., "mode": "character", "pred": "A"}

Routes: `GET /` (health), `POST /v1/predict` (JSON `{"image": "data:image/png;base64,...", "mode": ...}`, or the
raw image or PDF with an `image/*` or `application/pdf` content type), `GET /v1/predict?image_url=...&mode=...` and
the page `GET /ui`. `mode` is `line` (the default), `paragraph`, `page` (whole scans) or `character`; a mode whose
model is not shipped answers 400, and so does a page longer than its mode reads (`MAX_IMAGE_SIDE`). A body is at most
`MAX_CONTENT_LENGTH` bytes (413), a document at most `MAX_PAGES` pages (400). Every error is JSON `{"error": ...}`
with its status, and every request logs one JSON line.

Documents in, documents out: the input may be any image (a multi-page TIFF too) or a PDF (its pages rendered at 300
dpi), a data URL `data:application/pdf;base64,...` included. Query parameters shape the answer:

    format=txt|json|alto|page|hocr|pdf   the whole document in that format (`FORMATS`), with its content type
    page=N                               with format=page (PAGE XML holds one page): which page, 1-based (default 1)
    images=1                             with format=json: each page's image too, a PNG data URL (`PREVIEW_SIDE`)
    download=1                           with a format: `Content-Disposition: attachment; filename="<name><ext>"`
    name=scan                            the document's name, for titles and that file name (default: the URL's
                                         file name, else "document")

    curl -s 'localhost:8000/v1/predict?mode=page&format=alto' -H 'Content-Type: application/pdf' --data-binary @a.pdf

Without `format` the answer is the one it has always been, `{"pred", "conf", "mode", "lines": [{"box", "pred",
"conf", "kind"}]}`, for the first page; a document of several pages adds `"pages": N` (ask format=json for all).

Slow clients: served as the README serves it (gunicorn's gevent worker), a connection waits for its request as an
idle greenlet, not a thread. Its headers must arrive within gunicorn's `--keep-alive` seconds (the gevent worker's
bound on reading them) and its body within `BODY_TIMEOUT` seconds after them (408 otherwise), so held connections
are dropped.
"""

import base64
import io
import json
import logging
import os
import re
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import PurePosixPath
from typing import Any, Protocol
from urllib.parse import urlsplit

import gevent
import numpy as np
from flask import Flask, Response, g, jsonify, request
from gevent import monkey
from PIL import Image
from werkzeug.exceptions import (
    BadRequest,
    HTTPException,
    RequestEntityTooLarge,
    RequestTimeout,
    UnsupportedMediaType,
)

from api.fetch import FetchError, fetch_url
from text_recognizer.artifacts import ArtifactError
from text_recognizer.documents import FORMATS, Format, PageImage, read_pages
from text_recognizer.documents.model import Document, Page
from text_recognizer.predictors import MODES, Prediction, load_predictor
from text_recognizer.util import MAX_IMAGE_PIXELS, ImageError, decode_data_url, without_addresses

DEFAULT_MODE = "line"
ALLOW_PRIVATE_URLS_ENV_VAR = "TEXT_RECOGNIZER_API_ALLOW_PRIVATE_URLS"
DEFAULT_CONFIG = {
    "MAX_CONTENT_LENGTH": 10 * 1024 * 1024,  # a base64 page scan fits; larger bodies get 413
    "IMAGE_URL_MAX_BYTES": 10 * 1024 * 1024,
    "IMAGE_URL_TIMEOUT": 10.0,  # seconds for the whole fetch, redirects included
    "ALLOW_PRIVATE_URLS": False,  # True lets image_url reach loopback and private addresses (local testing only)
    # Seconds a request's body may take to arrive once its headers have (None: no bound). 10 MB in 20 s is 4 Mbit/s;
    # a proxy that buffers bodies (as nginx does by default) hands them over at once.
    "BODY_TIMEOUT": 20.0,
    # Pages a document may have (a PDF's are rendered at 300 dpi, up to MAX_IMAGE_PIXELS each, all held at once).
    "MAX_PAGES": 10,
}
# The longest side, in pixels, of an image each mode reads. Character and paragraph images are padded to a square of
# their longer side before they shrink to the network's input (28 and 256 px), so their memory and time grow with
# that side's square: a 40000x1 image would take gigabytes. These hold a 600 dpi A4 page and any photo of a
# character. A line is scaled to the network's height first, so its cost grows only with its area (the pixel cap).
MAX_IMAGE_SIDE = {"character": 4096, "paragraph": 8192, "page": 8192}
#: The longer side, in pixels, of the page images that format=json&images=1 gives (the web page shows them).
PREVIEW_SIDE = 1600
#: What a raw body may be sent as, besides any image/* type.
DOCUMENT_MEDIA_TYPES = ("application/pdf",)
DEFAULT_NAME = "document"

logger = logging.getLogger("api")


class Predictor(Protocol):
    """What the app serves a mode with: a `text_recognizer.predictors.Predictor`, or anything that reads alike."""

    def predict(self, image: np.ndarray) -> Prediction: ...


def load_predictors() -> dict[str, Predictor]:
    """A predictor for each mode whose model is shipped; the line mode takes IAM's model when there is one."""
    predictors: dict[str, Predictor] = {}
    for mode in MODES:
        try:
            predictors[mode] = load_predictor(mode)
        except (FileNotFoundError, ArtifactError, ValueError) as e:  # artifact missing or incomplete: serve the others
            logger.warning(json.dumps({"event": "mode_unavailable", "mode": mode, "reason": str(e)}))
    return predictors


def create_app(predictors: Mapping[str, Predictor] | None = None, config: Mapping[str, Any] | None = None) -> Flask:
    """The app serving `predictors` by mode (default: every shipped model, loaded now, once)."""
    app = Flask(__name__, static_folder="static")
    app.config.update(DEFAULT_CONFIG)
    app.config["ALLOW_PRIVATE_URLS"] = os.environ.get(ALLOW_PRIVATE_URLS_ENV_VAR, "") == "1"
    app.config.update(config or {})
    _configure_logging()
    # ONNX Runtime sessions and the decoders may be called from several threads at once: no locks.
    predictors = dict(load_predictors() if predictors is None else predictors)
    app.wsgi_app = _BodyDeadline(app.wsgi_app, app.config["BODY_TIMEOUT"])  # type: ignore[method-assign]

    def check_mode(mode: object) -> str:
        """The mode, if this server has it; checked before any image is decoded or fetched."""
        if not isinstance(mode, str):
            raise BadRequest("Field 'mode' must be a string")
        g.log["mode"] = mode
        if mode not in MODES:
            raise BadRequest(f"Unknown mode {mode!r}; choose one of {', '.join(MODES)}")
        if mode not in predictors:
            raise BadRequest(
                f"Mode {mode!r} is not available on this server; available: {', '.join(predictors) or 'none'}"
            )
        return mode

    def read(mode: str, data: bytes) -> list[PageImage]:
        """The document's pages, each checked against what `mode` reads; before any is predicted."""
        g.log["image_bytes"] = len(data)
        pages = read_pages(data, max_pages=app.config["MAX_PAGES"], max_pixels=MAX_IMAGE_PIXELS)
        g.log.update(image_height=pages[0].image.shape[0], image_width=pages[0].image.shape[1])
        if len(pages) > 1:
            g.log["pages"] = len(pages)
        limit = MAX_IMAGE_SIDE.get(mode)
        for number, page in enumerate(pages, 1):
            if limit is not None and max(page.image.shape) > limit:
                height, width = page.image.shape
                which = f"Page {number} of {len(pages)}: image" if len(pages) > 1 else "Image"
                raise BadRequest(
                    f"{which} of {width}x{height} pixels is too large for {mode} mode: its longer side may be at "
                    f"most {limit} pixels"
                )
        return pages

    def predict(mode: str, data: bytes, answer: _Answer) -> Response:
        pages = read(mode, data)
        if answer.format is not None:
            return document_response(mode, pages, answer)
        prediction = predictors[mode].predict(pages[0].image)
        g.log.update(pred_length=len(prediction.text), conf=round(prediction.confidence, 4))
        # Each line with its box [x, y, width, height] in the image's pixels (none for a character).
        lines = [
            {"box": list(line.box), "pred": line.text, "conf": line.confidence, "kind": line.kind}
            for line in prediction.lines
        ]
        more = {"pages": len(pages)} if len(pages) > 1 else {}
        return jsonify(pred=prediction.text, conf=prediction.confidence, mode=mode, lines=lines, **more)

    def document_response(mode: str, images: list[PageImage], answer: _Answer) -> Response:
        assert answer.format is not None
        name = answer.name
        if answer.format.name == "page":  # PAGE XML holds one page: only the one asked for is read
            if answer.page > len(images):
                raise BadRequest(f"Page {answer.page} asked for, but the document has {len(images)} page(s)")
            if len(images) > 1:
                name = f"{name}_page{answer.page}"
            images = [images[answer.page - 1]]
        pages = []
        for image in images:
            prediction = predictors[mode].predict(image.image)
            height, width = image.image.shape
            pages.append(Page(width, height, prediction, dpi=image.dpi, image=image.image))
        document = Document(answer.name, tuple(pages))
        g.log.update(pred_length=len(document.text), lines=sum(len(page.lines) for page in pages))
        body = answer.format.write(document)
        if answer.images:
            body = _with_page_images(body, images)
        response = Response(body, content_type=answer.format.media_type)
        if answer.download:
            response.headers["Content-Disposition"] = f'attachment; filename="{name}{answer.format.extension}"'
        return response

    @app.get("/")
    def health() -> Response:
        return jsonify(status="ok", modes=sorted(predictors), default_mode=DEFAULT_MODE)

    @app.get("/ui")
    def ui() -> Response:
        return app.send_static_file("index.html")

    def request_body() -> bytes:
        """The request's body, refusing one longer than MAX_CONTENT_LENGTH however it is sent."""
        data = request.get_data()
        limit = app.config["MAX_CONTENT_LENGTH"]
        # Werkzeug refuses a declared Content-Length past the limit, but reads a chunked body only up to the limit
        # and gives that, cut, as the body: one that reaches the limit may have been cut, so it is refused too.
        if request.content_length is None and limit is not None and len(data) >= limit:
            raise RequestEntityTooLarge(f"The body may be at most {limit - 1} bytes when sent in chunks")
        return data

    @app.post("/v1/predict")
    def predict_post() -> Response:
        answer = _answer_asked(request.args, DEFAULT_NAME)
        if request.mimetype.startswith("image/") or request.mimetype in DOCUMENT_MEDIA_TYPES:
            return predict(check_mode(request.args.get("mode", DEFAULT_MODE)), request_body(), answer)
        if request.mimetype != "application/json":
            raise UnsupportedMediaType(
                'Send JSON {"image": "data:image/png;base64,..."} or an image/* or application/pdf body'
            )
        request_body()  # read and checked here; get_json reads it again from Werkzeug's cache
        try:
            body = request.get_json(silent=True)
        except RecursionError as e:  # what the json module raises, rather than a ValueError, on deeply nested input
            raise BadRequest("The JSON body is nested too deeply") from e
        if not isinstance(body, dict):
            raise BadRequest("The body must be a JSON object")
        image = body.get("image")
        if not isinstance(image, str):
            raise BadRequest("Missing field 'image': a data URL 'data:image/png;base64,...'")
        mode = check_mode(body.get("mode", request.args.get("mode", DEFAULT_MODE)))
        return predict(mode, decode_data_url(image), answer)

    @app.get("/v1/predict")
    def predict_get() -> Response:
        url = request.args.get("image_url")
        if not url:
            raise BadRequest("Missing query parameter 'image_url'")
        answer = _answer_asked(request.args, _url_name(url))
        mode = check_mode(request.args.get("mode", DEFAULT_MODE))
        data = fetch_url(
            url,
            max_bytes=app.config["IMAGE_URL_MAX_BYTES"],
            timeout=app.config["IMAGE_URL_TIMEOUT"],
            allow_private=app.config["ALLOW_PRIVATE_URLS"],
        )
        return predict(mode, data, answer)

    @app.before_request
    def start_timer() -> None:
        g.start = time.perf_counter()
        g.log = {}

    @app.after_request
    def log_request(response: Response) -> Response:
        record = {
            "event": "request",
            "method": request.method,
            "path": request.path,
            "status": response.status_code,
            "latency_ms": round((time.perf_counter() - g.start) * 1000, 2),
            **g.log,
        }
        logger.info(json.dumps(record))
        return response

    @app.errorhandler(HTTPException)
    def http_error(error: HTTPException) -> Response:
        return _error_response(error.code or 500, error.description or error.name, error.get_response().headers)

    @app.errorhandler(ImageError)
    def image_error(error: ImageError) -> Response:
        return _error_response(400, str(error))

    @app.errorhandler(FetchError)
    def fetch_error(error: FetchError) -> Response:
        return _error_response(error.status, str(error))

    @app.errorhandler(Exception)
    def unexpected_error(error: Exception) -> Response:
        # The traceback goes to the server's log only; the client learns nothing about the internals.
        logger.exception(json.dumps({"event": "unhandled_error", "path": request.path}))
        return _error_response(500, "Internal server error")

    return app


@dataclass(frozen=True)
class _Answer:
    """What the query string asks the answer to be: a document `format` (None: today's JSON), which `page` for
    format=page, whether to include page `images` (format=json) and to `download` it as the file `name`."""

    format: Format | None
    page: int
    images: bool
    download: bool
    name: str


def _answer_asked(args: Mapping[str, str], default_name: str) -> _Answer:
    """The answer the query parameters ask for, checked before any body is read or URL fetched."""
    format_name = args.get("format")
    if format_name is not None and format_name not in FORMATS:
        raise BadRequest(f"Unknown format {format_name!r}; choose one of {', '.join(FORMATS)}")
    output = FORMATS[format_name] if format_name is not None else None
    page, images, download = args.get("page"), _flag(args, "images"), _flag(args, "download")
    if page is not None and format_name != "page":
        raise BadRequest("Query parameter 'page' goes with format=page only (the other formats hold every page)")
    if page is not None and not (page.isascii() and page.isdigit() and 1 <= int(page) <= 100_000):
        raise BadRequest(f"Query parameter 'page' must be a page number from 1, not {page[:20]!r}")
    if images and format_name != "json":
        raise BadRequest("Query parameter 'images' goes with format=json only")
    if download and output is None:
        raise BadRequest(f"Query parameter 'download' needs a format: one of {', '.join(FORMATS)}")
    name = _file_name(args.get("name", "")) or _file_name(default_name) or DEFAULT_NAME
    g.log.update({"format": format_name} if format_name else {})
    return _Answer(output, int(page or 1), images, download, name)


def _flag(args: Mapping[str, str], name: str) -> bool:
    value = args.get(name, "0").lower()
    if value not in ("0", "1", "false", "true", ""):
        raise BadRequest(f"Query parameter {name!r} must be 1 or 0, not {value[:20]!r}")
    return value in ("1", "true")


def _file_name(name: str) -> str:
    """`name` made safe as a file name (and in a quoted header): letters, digits, '-', '_' and inner dots."""
    return re.sub(r"[^A-Za-z0-9._-]+", "_", name).strip("._")[:100]


def _url_name(url: str) -> str:
    """The stem of a URL's file name: scan for https://example.com/files/scan.pdf?x=1."""
    try:
        return PurePosixPath(urlsplit(url).path).stem
    except ValueError:  # a malformed URL: fetch_url says so
        return ""


def _with_page_images(body: bytes, images: Sequence[PageImage]) -> bytes:
    """The JSON document `body` with each page's image as a PNG data URL, shrunk to `PREVIEW_SIDE` at most."""
    document = json.loads(body)
    for page, image in zip(document["pages"], images, strict=True):
        preview = Image.fromarray(image.image)
        preview.thumbnail((PREVIEW_SIDE, PREVIEW_SIDE))
        buffer = io.BytesIO()
        preview.save(buffer, format="PNG")
        page["image"] = "data:image/png;base64," + base64.b64encode(buffer.getvalue()).decode()
    return json.dumps(document).encode()


def _error_response(status: int, message: str, headers: Any = None) -> Response:
    message = without_addresses(message)  # a library's message may show an object's repr, with its address
    g.setdefault("log", {})["error"] = message
    response = jsonify(error=message)
    response.status_code = status
    if headers is not None and "Allow" in headers:  # a 405 says which methods are allowed
        response.headers["Allow"] = headers["Allow"]
    return response


class _BodyDeadline:
    """WSGI middleware: the request body must have arrived `seconds` after the headers, or reading it raises 408.

    Only where gevent has patched the sockets (gunicorn's gevent worker): there a `gevent.Timeout` interrupts a
    read however the client trickles its bytes, where a socket timeout would bound only each wait for data. Other
    servers (Werkzeug's, the Lambda adapter's in-memory body) are left as they are."""

    def __init__(self, app: Any, seconds: float | None):
        self.app, self.seconds = app, seconds

    def __call__(self, environ: dict[str, Any], start_response: Any) -> Any:
        if self.seconds is not None and monkey.is_module_patched("socket"):
            environ["wsgi.input"] = _DeadlineInput(environ["wsgi.input"], time.monotonic() + self.seconds)
        return self.app(environ, start_response)


class _DeadlineInput:
    """A WSGI input stream whose reads all end by `deadline` (a `time.monotonic()` time)."""

    def __init__(self, stream: Any, deadline: float):
        self._stream, self._deadline = stream, deadline

    def _by_deadline(self, method: str, *args: Any) -> Any:
        left = self._deadline - time.monotonic()
        timeout = gevent.Timeout(max(left, 0.001))
        timeout.start()
        try:
            return getattr(self._stream, method)(*args)
        except gevent.Timeout as e:
            if e is not timeout:  # someone else's timeout, such as gunicorn's own
                raise
            # An HTTPException, so Werkzeug does not take it for a disconnection (400) and the app answers 408.
            raise RequestTimeout("The request body did not arrive in time") from None
        finally:
            timeout.close()

    def read(self, size: int | None = None) -> bytes:
        return self._by_deadline("read", size)

    def readline(self, size: int | None = None) -> bytes:
        return self._by_deadline("readline", size)

    def readlines(self, hint: int | None = None) -> list[bytes]:
        return self._by_deadline("readlines", hint)

    def __iter__(self) -> Any:
        return iter(self.readline, b"")


def _configure_logging() -> None:
    """One bare JSON line per record on stderr, unless the host application set up the logger already."""
    if not logger.handlers:
        handler = logging.StreamHandler()
        handler.setFormatter(logging.Formatter("%(message)s"))
        logger.addHandler(handler)
        logger.setLevel(logging.INFO)


if __name__ == "__main__":
    create_app().run(host="0.0.0.0", port=int(os.environ.get("PORT", "8000")), threaded=True)
