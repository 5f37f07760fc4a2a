"""The prediction web API: handwriting image in, text and confidence out.

    python api/app.py                                          # serves on port 8000 ($PORT to change)
    gunicorn -b 0.0.0.0:8000 --threads 4 'api.app:create_app()'  # in production
    curl -s localhost:8000/v1/predict -H 'Content-Type: application/json' -d "{\"mode\": \"character\",
        \"image\": \"data:image/png;base64,$(base64 -w0 text_recognizer/tests/support/emnist/upper_A.png)\"}"
    # {"conf": 0.99..., "mode": "character", "pred": "A"}

Routes: `GET /` (health), `POST /v1/predict` (JSON `{"image": "data:image/png;base64,...", "mode": ...}`, or the
raw image with an `image/*` content type), `GET /v1/predict?image_url=...&mode=...` and the page `GET /ui`.
`mode` is `line` (the default), `paragraph` or `character`; a mode whose model is not shipped answers 400.
Every error is JSON `{"error": ...}` with its status, and every request logs one JSON line.
"""

import json
import logging
import os
import time
from collections.abc import Mapping
from typing import Any, Protocol

import numpy as np
from flask import Flask, Response, g, jsonify, request
from werkzeug.exceptions import BadRequest, HTTPException, UnsupportedMediaType

from api.fetch import FetchError, fetch_url
from text_recognizer.artifacts import ArtifactError
from text_recognizer.predictors import MODES, Prediction, load_predictor
from text_recognizer.util import ImageError, decode_data_url, decode_image

DEFAULT_MODE = "line"
ALLOW_PRIVATE_URLS_ENV_VAR = "TEXT_RECOGNIZER_API_ALLOW_PRIVATE_URLS"
DEFAULT_CONFIG = {
    "MAX_CONTENT_LENGTH": 10 * 1024 * 1024,  # a base64 page scan fits; larger bodies get 413
    "IMAGE_URL_MAX_BYTES": 10 * 1024 * 1024,
    "IMAGE_URL_TIMEOUT": 10.0,  # seconds for the whole fetch, redirects included
    "ALLOW_PRIVATE_URLS": False,  # True lets image_url reach loopback and private addresses (local testing only)
}

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

    def predict(mode: str, data: bytes) -> Response:
        g.log["image_bytes"] = len(data)
        image = decode_image(data)
        g.log.update(image_height=image.shape[0], image_width=image.shape[1])
        prediction = predictors[mode].predict(image)
        g.log.update(pred_length=len(prediction.text), conf=round(prediction.confidence, 4))
        # Each line with its box [x, y, width, height] in the image's pixels (none for a character).
        lines = [
            {"box": list(line.box), "pred": line.text, "conf": line.confidence, "kind": line.kind}
            for line in prediction.lines
        ]
        return jsonify(pred=prediction.text, conf=prediction.confidence, mode=mode, lines=lines)

    @app.get("/")
    def health() -> Response:
        return jsonify(status="ok", modes=sorted(predictors), default_mode=DEFAULT_MODE)

    @app.get("/ui")
    def ui() -> Response:
        return app.send_static_file("index.html")

    @app.post("/v1/predict")
    def predict_post() -> Response:
        if request.mimetype.startswith("image/"):
            return predict(check_mode(request.args.get("mode", DEFAULT_MODE)), request.get_data())
        if request.mimetype != "application/json":
            raise UnsupportedMediaType('Send JSON {"image": "data:image/png;base64,..."} or an image/* body')
        body = request.get_json(silent=True)
        if not isinstance(body, dict):
            raise BadRequest("The body must be a JSON object")
        image = body.get("image")
        if not isinstance(image, str):
            raise BadRequest("Missing field 'image': a data URL 'data:image/png;base64,...'")
        mode = check_mode(body.get("mode", request.args.get("mode", DEFAULT_MODE)))
        return predict(mode, decode_data_url(image))

    @app.get("/v1/predict")
    def predict_get() -> Response:
        url = request.args.get("image_url")
        if not url:
            raise BadRequest("Missing query parameter 'image_url'")
        mode = check_mode(request.args.get("mode", DEFAULT_MODE))
        data = fetch_url(
            url,
            max_bytes=app.config["IMAGE_URL_MAX_BYTES"],
            timeout=app.config["IMAGE_URL_TIMEOUT"],
            allow_private=app.config["ALLOW_PRIVATE_URLS"],
        )
        return predict(mode, data)

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


def _error_response(status: int, message: str, headers: Any = None) -> Response:
    g.setdefault("log", {})["error"] = message
    response = jsonify(error=message)
    response.status_code = status
    if headers is not None and "Allow" in headers:  # a 405 says which methods are allowed
        response.headers["Allow"] = headers["Allow"]
    return response


def _configure_logging() -> None:
    """One bare JSON line per record on stderr, unless the host application set up the logger already."""
    if not logger.handlers:
        handler = logging.StreamHandler()
        handler.setFormatter(logging.Formatter("%(message)s"))
        logger.addHandler(handler)
        logger.setLevel(logging.INFO)


if __name__ == "__main__":
    create_app().run(host="0.0.0.0", port=int(os.environ.get("PORT", "8000")), threaded=True)
