"""The API app: predictions on real support images, every kind of bad input, image_url safety, logs, threads."""

import io
import json
import logging
import socket
import struct
import zlib
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np
import pytest
from flask import Flask
from flask.testing import FlaskClient
from PIL import Image

from api import fetch
from api.app import ALLOW_PRIVATE_URLS_ENV_VAR, create_app
from api.tests.helpers import (
    CHARACTER_IMAGES,
    PARAGRAPH_IMAGE,
    PARAGRAPH_NUM_LINES,
    FakePredictor,
    ImageServer,
    data_url,
    expected_character,
    line_texts,
)
from text_recognizer.metrics import character_error_rate
from text_recognizer.predictors.line import best_shipped_dataset
from text_recognizer.tests.test_line_predictor import MAX_MEAN_CER
from text_recognizer.util import MAX_IMAGE_PIXELS, read_image


def _small_png() -> bytes:
    """A real 28x28 PNG with a bright stroke on black, as EMNIST characters are."""
    pixels = np.zeros((28, 28), np.uint8)
    pixels[6:22, 12:16] = 255
    buffer = io.BytesIO()
    Image.fromarray(pixels).save(buffer, format="PNG")
    return buffer.getvalue()


IMAGE = _small_png()


def _png(width: int, height: int, rows: bytes = b"") -> bytes:
    """A 1-bit greyscale PNG of the given size whose pixel data is `rows` (zlib-compressed here)."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    header = struct.pack(">IIBBBBB", width, height, 1, 0, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", zlib.compress(rows)) + chunk(b"IEND", b"")


def _bomb() -> bytes:
    """A valid, all-black PNG of 64 million pixels that is only a few kilobytes long."""
    side = 8000
    return _png(side, side, (b"\x00" + b"\x00" * (side // 8)) * side)


def _assert_json_error(response, status: int, caplog: pytest.LogCaptureFixture, fragment: str = "") -> None:
    assert response.status_code == status, response.get_data(as_text=True)
    assert response.mimetype == "application/json"
    assert fragment.lower() in response.get_json()["error"].lower()
    assert "Traceback" not in response.get_data(as_text=True)
    assert not [r for r in caplog.records if "unhandled_error" in r.getMessage()], "reached the catch-all handler"


@pytest.fixture
def fake() -> FakePredictor:
    return FakePredictor()


@pytest.fixture
def client(fake: FakePredictor) -> FlaskClient:
    return create_app({"line": fake, "character": fake}).test_client()


@pytest.fixture
def private_client(fake: FakePredictor) -> FlaskClient:
    """An app allowed to fetch from loopback, as for local testing, with a small size cap and a short timeout."""
    config = {"ALLOW_PRIVATE_URLS": True, "IMAGE_URL_MAX_BYTES": 100_000, "IMAGE_URL_TIMEOUT": 1.0}
    return create_app({"line": fake, "character": fake}, config).test_client()


@pytest.fixture
def no_outside_traffic(monkeypatch: pytest.MonkeyPatch) -> list:
    """Fails any connection to an address other than loopback; returns the addresses connected to."""
    connected: list = []
    real_create_connection = socket.create_connection

    def guarded(address, *args, **kwargs):
        connected.append(address[0])
        assert address[0] in ("127.0.0.1", "::1"), f"connection to {address[0]} attempted"
        return real_create_connection(address, *args, **kwargs)

    monkeypatch.setattr(socket, "create_connection", guarded)
    return connected


# Predictions with the shipped models.


def test_character_mode_serves_the_character_model(shipped_app: Flask, shipped_predictors) -> None:
    client = shipped_app.test_client()
    correct = 0
    for path in CHARACTER_IMAGES:
        response = client.post("/v1/predict", json={"image": data_url(path.read_bytes()), "mode": "character"})
        assert response.status_code == 200
        answer = response.get_json()
        assert answer["mode"] == "character"
        expected = shipped_predictors["character"].predict(read_image(path))
        assert (answer["pred"], answer["conf"], answer["lines"]) == (expected.text, expected.confidence, [])
        correct += answer["pred"] == expected_character(path)
    assert correct / len(CHARACTER_IMAGES) >= 0.8  # as the character predictor's own test asks


def test_line_mode_is_the_default_and_serves_the_shipped_line_model(shipped_app: Flask, shipped_predictors) -> None:
    client = shipped_app.test_client()
    predictions, targets = [], []
    for path, text in line_texts().items():
        answer = client.post("/v1/predict", json={"image": data_url(path.read_bytes())}).get_json()
        assert answer["mode"] == "line"
        expected = shipped_predictors["line"].predict(read_image(path))
        assert (answer["pred"], answer["conf"]) == (expected.text, expected.confidence)
        height, width = read_image(path).shape
        assert answer["lines"] == [{"box": [0, 0, width, height], "pred": expected.text, "conf": expected.confidence,
                                    "kind": "handwritten"}]  # fmt: skip
        predictions.append(answer["pred"])
        targets.append(text)
    assert character_error_rate(predictions, targets) <= MAX_MEAN_CER[best_shipped_dataset()]


def test_paragraph_mode_serves_the_paragraph_recognizer_with_line_boxes(shipped_app: Flask) -> None:
    path = PARAGRAPH_IMAGE
    json_body = {"image": data_url(path.read_bytes()), "mode": "paragraph"}
    answer = shipped_app.test_client().post("/v1/predict", json=json_body)
    assert answer.status_code == 200
    body = answer.get_json()
    assert body["mode"] == "paragraph" and len(body["lines"]) == PARAGRAPH_NUM_LINES
    assert body["pred"] == "\n".join(line["pred"] for line in body["lines"])
    assert body["conf"] == min(line["conf"] for line in body["lines"])
    height, width = read_image(path).shape
    boxes = [line["box"] for line in body["lines"]]
    assert all(x >= 0 and y >= 0 and x + w <= width and y + h <= height for x, y, w, h in boxes)


def test_raw_image_body_and_image_url_agree_with_json(shipped_predictors, image_server: ImageServer) -> None:
    client = create_app(shipped_predictors, {"ALLOW_PRIVATE_URLS": True}).test_client()
    path = CHARACTER_IMAGES[1]
    image_server.routes["/char.png"] = (200, {"Content-Type": "image/png"}, path.read_bytes())
    answers = [
        client.post("/v1/predict?mode=character", json={"image": data_url(path.read_bytes())}),
        client.post("/v1/predict?mode=character", data=path.read_bytes(), content_type="image/png"),
        client.get("/v1/predict", query_string={"mode": "character", "image_url": image_server.url("/char.png")}),
    ]
    assert [a.status_code for a in answers] == [200, 200, 200]
    assert all(a.get_json() == answers[0].get_json() for a in answers)
    expected = shipped_predictors["character"].predict(read_image(path))
    assert answers[0].get_json() == {
        "pred": expected.text,
        "conf": expected.confidence,
        "mode": "character",
        "lines": [],
    }


def test_health_lists_the_available_modes(client: FlaskClient) -> None:
    assert client.get("/").get_json() == {"status": "ok", "modes": ["character", "line"], "default_mode": "line"}


def test_ui_page_is_served(client: FlaskClient) -> None:
    response = client.get("/ui")
    assert response.status_code == 200 and response.mimetype == "text/html"
    assert b"/v1/predict" in response.data


# Bad input: a JSON error with the right status, never the catch-all handler.

BAD_POSTS = {
    "missing-image": (dict(json={}), 400, "missing field 'image'"),
    "image-not-a-string": (dict(json={"image": 5}), 400, "missing field 'image'"),
    "body-not-an-object": (dict(json=["data:image/png;base64,AAAA"]), 400, "JSON object"),
    "malformed-json": (dict(data="{", content_type="application/json"), 400, "JSON object"),
    "empty-json-body": (dict(data="", content_type="application/json"), 400, "JSON object"),
    "not-a-data-url": (dict(json={"image": "hello"}), 400, "data URL"),
    "data-url-not-base64": (dict(json={"image": "data:image/png,abc"}), 400, "data URL"),
    "malformed-base64": (dict(json={"image": "data:image/png;base64,@@@"}), 400, "base64"),
    "empty-image": (dict(json={"image": "data:image/png;base64,"}), 400, "empty"),
    "not-an-image": (dict(json={"image": data_url(b"hello, world")}), 400, "not a readable image"),
    "truncated-png": (dict(json={"image": data_url(IMAGE[:40])}), 400, "not a readable image"),
    "zero-size-png": (dict(json={"image": data_url(_png(0, 0))}), 400, ""),
    "huge-declared-png": (dict(json={"image": data_url(_png(100_000, 100_000))}), 400, "pixels"),
    "decompression-bomb": (dict(json={"image": data_url(_bomb())}), 400, "pixels"),
    "raw-body-not-an-image": (dict(data=b"GIF89a nonsense", content_type="image/gif"), 400, "not a readable"),
    "raw-body-empty": (dict(data=b"", content_type="image/png"), 400, "empty"),
    "oversize-body": (dict(data=b"x" * (10 * 1024 * 1024 + 1), content_type="image/png"), 413, ""),
    "oversize-json": (dict(json={"image": "data:image/png;base64," + "A" * 11_000_000}), 413, ""),
    "text-plain": (dict(data="hello", content_type="text/plain"), 415, "Send JSON"),
    "form": (dict(data={"image": "x"}), 415, "Send JSON"),
    "no-content-type": (dict(data=b"{}"), 415, "Send JSON"),
    "unknown-mode": (dict(json={"image": data_url(IMAGE), "mode": "banana"}), 400, "unknown mode 'banana'"),
    "mode-not-a-string": (dict(json={"image": data_url(IMAGE), "mode": ["line"]}), 400, "must be a string"),
    "mode-not-available": (dict(json={"image": data_url(IMAGE), "mode": "paragraph"}), 400, "not available"),
}


@pytest.mark.parametrize("request_args,status,fragment", BAD_POSTS.values(), ids=BAD_POSTS.keys())
def test_bad_post_is_a_json_error(client, fake, caplog, request_args, status, fragment) -> None:
    _assert_json_error(client.post("/v1/predict", **request_args), status, caplog, fragment)
    assert not fake.images, "a bad request reached the model"


def test_the_bomb_is_a_valid_image_over_the_pixel_limit() -> None:
    with Image.open(io.BytesIO(_bomb())) as image:
        image.verify()
        assert image.width * image.height > MAX_IMAGE_PIXELS


def test_unknown_mode_in_query_string(client: FlaskClient, caplog) -> None:
    response = client.post("/v1/predict?mode=nope", data=IMAGE, content_type="image/png")
    _assert_json_error(response, 400, caplog, "unknown mode")


@pytest.mark.parametrize("method", ["put", "delete", "patch"])
def test_wrong_method_is_a_json_405(client: FlaskClient, caplog, method: str) -> None:
    response = getattr(client, method)("/v1/predict")
    _assert_json_error(response, 405, caplog)
    assert {"GET", "POST"} <= set(response.headers["Allow"].split(", "))


def test_unknown_path_is_a_json_404(client: FlaskClient, caplog) -> None:
    _assert_json_error(client.get("/v2/predict"), 404, caplog)


def test_get_without_image_url_is_a_400(client: FlaskClient, caplog) -> None:
    _assert_json_error(client.get("/v1/predict"), 400, caplog, "image_url")


def test_model_failure_is_a_json_500_without_internals(caplog) -> None:
    class Broken:
        def predict(self, image):
            raise RuntimeError("secret internal detail")

    response = create_app({"line": Broken()}).test_client().post("/v1/predict", json={"image": data_url(IMAGE)})
    assert response.status_code == 500
    assert response.get_json() == {"error": "Internal server error"}
    assert "secret" not in response.get_data(as_text=True)
    assert any("unhandled_error" in r.getMessage() for r in caplog.records)


# image_url: refused without any traffic, fetched from loopback only when allowed.

REFUSED_URLS = {
    "loopback": ("http://127.0.0.1:{port}/char.png", "not a public address"),
    "loopback-name": ("http://localhost:{port}/char.png", "not a public address"),
    "loopback-v6": ("http://[::1]:{port}/char.png", "not a public address"),
    "v4-mapped-loopback": ("http://[::ffff:127.0.0.1]:{port}/char.png", "not a public address"),
    "unspecified": ("http://0.0.0.0:{port}/char.png", "not a public address"),
    "private-10": ("http://10.1.2.3/char.png", "not a public address"),
    "private-192": ("http://192.168.0.1/char.png", "not a public address"),
    "carrier-nat": ("http://100.64.0.1/char.png", "not a public address"),
    "metadata": ("http://169.254.169.254/latest/meta-data/", "not a public address"),
    "link-local-v6": ("http://[fe80::1]/char.png", "not a public address"),
    "unique-local-v6": ("http://[fd00::1]/char.png", "not a public address"),
    "multicast": ("http://224.0.0.1/char.png", "not a public address"),
    "reserved": ("http://240.0.0.1/char.png", "not a public address"),
    "file": ("file:///etc/passwd", "only http and https"),
    "ftp": ("ftp://127.0.0.1/char.png", "only http and https"),
    "gopher": ("gopher://127.0.0.1:70/", "only http and https"),
    "no-scheme": ("127.0.0.1/char.png", "only http and https"),
    "no-host": ("http:///char.png", "no host"),
    "credentials": ("http://user:pw@127.0.0.1:{port}/char.png", "credentials"),
    "bad-port": ("http://127.0.0.1:99999/char.png", "port"),
}


@pytest.mark.parametrize("url,fragment", REFUSED_URLS.values(), ids=REFUSED_URLS.keys())
def test_refused_urls_send_no_traffic(client, image_server, no_outside_traffic, caplog, url, fragment) -> None:
    image_server.routes["/char.png"] = (200, {}, IMAGE)
    response = client.get("/v1/predict", query_string={"image_url": url.format(port=image_server.server_port)})
    _assert_json_error(response, 400, caplog, fragment)
    assert no_outside_traffic == [] and image_server.hits == []


def test_a_host_with_any_private_address_is_refused(client, monkeypatch, no_outside_traffic, caplog) -> None:
    def resolve(host, port, *args, **kwargs):
        assert host == "mixed.example.test"
        return [
            (socket.AF_INET, socket.SOCK_STREAM, 6, "", ("93.184.215.14", port)),
            (socket.AF_INET, socket.SOCK_STREAM, 6, "", ("10.0.0.7", port)),
        ]

    monkeypatch.setattr(socket, "getaddrinfo", resolve)
    response = client.get("/v1/predict", query_string={"image_url": "https://mixed.example.test/a.png"})
    _assert_json_error(response, 400, caplog, "10.0.0.7")
    assert no_outside_traffic == []


def test_public_addresses_are_public() -> None:
    import ipaddress

    assert fetch.is_public(ipaddress.ip_address("93.184.215.14"))
    assert fetch.is_public(ipaddress.ip_address("2606:4700::1111"))


def test_private_urls_are_allowed_by_the_environment(monkeypatch, fake, image_server, no_outside_traffic) -> None:
    monkeypatch.setenv(ALLOW_PRIVATE_URLS_ENV_VAR, "1")
    image_server.routes["/char.png"] = (200, {"Content-Type": "image/png"}, IMAGE)
    client = create_app({"line": fake}).test_client()
    response = client.get("/v1/predict", query_string={"image_url": image_server.url("/char.png")})
    assert response.status_code == 200 and response.get_json()["pred"] == "fake"
    assert image_server.hits == ["/char.png"] and no_outside_traffic == ["127.0.0.1"]
    assert (fake.images[0] == read_image(IMAGE)).all()


def test_redirects_are_followed_and_checked(private_client, image_server, no_outside_traffic, caplog) -> None:
    image_server.routes.update(
        {
            "/char.png": (200, {}, IMAGE),
            "/moved": (302, {"Location": "/char.png"}, b""),
            "/to-file": (302, {"Location": "file:///etc/passwd"}, b""),
            "/loop": (301, {"Location": "/loop"}, b""),
        }
    )

    def get(path: str):
        return private_client.get("/v1/predict", query_string={"image_url": image_server.url(path)})

    assert get("/moved").status_code == 200
    _assert_json_error(get("/to-file"), 400, caplog, "only http and https")
    _assert_json_error(get("/loop"), 400, caplog, "redirects")
    assert image_server.hits.count("/loop") == fetch.MAX_REDIRECTS + 1


def test_the_mode_is_checked_before_fetching(private_client, image_server, caplog) -> None:
    image_server.routes["/char.png"] = (200, {}, IMAGE)
    query = {"image_url": image_server.url("/char.png"), "mode": "paragraph"}
    _assert_json_error(private_client.get("/v1/predict", query_string=query), 400, caplog, "not available")
    assert image_server.hits == []


def test_fetch_failures_are_json_errors(private_client, image_server, no_outside_traffic, caplog) -> None:
    big = b"\x00" * 200_000
    image_server.routes.update(
        {
            "/declared-too-big": (200, {}, big),
            "/streamed-too-big": (200, {"Content-Length": None}, big),
            "/gone": (410, {}, b""),
            "/text": (200, {"Content-Type": "text/html"}, b"<html>hello</html>"),
        }
    )

    def get(url: str):
        return private_client.get("/v1/predict", query_string={"image_url": url})

    _assert_json_error(get(image_server.url("/declared-too-big")), 413, caplog, "larger than 100000 bytes")
    _assert_json_error(get(image_server.url("/streamed-too-big")), 413, caplog, "larger than 100000 bytes")
    _assert_json_error(get(image_server.url("/gone")), 400, caplog, "HTTP 410")
    _assert_json_error(get(image_server.url("/text")), 400, caplog, "not a readable image")
    _assert_json_error(get(image_server.url("/text\r\nX-Injected: 1")), 400, caplog, "could not fetch")
    with socket.socket() as closed:  # a port nothing listens on
        closed.bind(("127.0.0.1", 0))
        port = closed.getsockname()[1]
    _assert_json_error(get(f"http://127.0.0.1:{port}/char.png"), 400, caplog, "could not fetch")


def test_slow_servers_time_out(private_client, image_server, no_outside_traffic, caplog) -> None:
    image_server.routes["/char.png"] = (200, {}, IMAGE)
    image_server.delay = 2.0
    response = private_client.get("/v1/predict", query_string={"image_url": image_server.url("/char.png")})
    _assert_json_error(response, 400, caplog, "timed out")


# Logs and threads.


def test_each_request_logs_one_json_line(client: FlaskClient, caplog) -> None:
    caplog.set_level(logging.INFO, logger="api")
    client.post("/v1/predict?mode=character", json={"image": data_url(IMAGE)})
    client.post("/v1/predict", json={"mode": "banana", "image": data_url(IMAGE)})
    lines = [json.loads(r.getMessage()) for r in caplog.records if r.name == "api"]
    assert len(lines) == 2
    ok, bad = lines
    height, width = read_image(IMAGE).shape
    assert ok["status"] == 200 and ok["mode"] == "character" and ok["latency_ms"] >= 0
    assert (ok["image_width"], ok["image_height"], ok["image_bytes"]) == (width, height, len(IMAGE))
    assert (ok["conf"], ok["pred_length"]) == (0.5, len("fake"))
    assert bad["status"] == 400 and bad["mode"] == "banana" and "banana" in bad["error"]


def test_calls_to_one_model_run_side_by_side() -> None:
    # ONNX Runtime sessions and the decoders are safe to call from several threads: no lock serializes them.
    slow = FakePredictor(delay=0.01)
    app = create_app({"line": slow})

    def call(_: int) -> int:
        return app.test_client().post("/v1/predict", json={"image": data_url(IMAGE)}).status_code

    with ThreadPoolExecutor(8) as pool:
        assert set(pool.map(call, range(32))) == {200}
    assert slow.max_running > 1 and len(slow.images) == 32


def test_threads_get_the_same_answers_as_one_caller(shipped_app: Flask) -> None:
    calls = [("character", path) for path in CHARACTER_IMAGES[:8]] + [("line", path) for path in list(line_texts())[:4]]

    def call(mode_and_path: tuple[str, Path]) -> dict:
        mode, path = mode_and_path
        body = {"image": data_url(path.read_bytes()), "mode": mode}
        return shipped_app.test_client().post("/v1/predict", json=body).get_json()

    one_caller = [call(c) for c in calls]
    with ThreadPoolExecutor(8) as pool:
        assert list(pool.map(call, calls * 3)) == one_caller * 3
