"""The API app: predictions on real support images, every kind of bad input, image_url safety, logs, threads."""

import io
import ipaddress
import json
import logging
import re
import socket
import struct
import time
import zlib
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np
import pytest
from flask import Flask
from flask.testing import FlaskClient
from PIL import Image

from api import fetch
from api.app import ALLOW_PRIVATE_URLS_ENV_VAR, MAX_IMAGE_SIDE, create_app, load_predictors
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
from text_recognizer import artifacts
from text_recognizer.metrics import character_error_rate
from text_recognizer.predictors import MODES
from text_recognizer.predictors import line as line_predictor
from text_recognizer.predictors.line import SHIPPED_MODELS, best_shipped_dataset
from text_recognizer.predictors.page import DETECTOR_NAME
from text_recognizer.tests.support.local_http import trickling_server
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


def _grey_png(width: int, height: int) -> bytes:
    """A white PNG of the given size with one dark pixel in its middle."""
    pixels = np.full((height, width), 255, np.uint8)
    pixels[height // 2, width // 2] = 0
    buffer = io.BytesIO()
    Image.fromarray(pixels).save(buffer, format="PNG")
    return buffer.getvalue()


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


ELONGATED = {"wide": (40_000, 1), "tall": (1, 40_000)}


@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("size", ELONGATED.values(), ids=ELONGATED.keys())
def test_elongated_images_are_answered_in_seconds(shipped_app: Flask, mode: str, size: tuple[int, int]) -> None:
    # Character and paragraph inputs are padded to a square of the longer side: 40000x1 once took 12 s and 2 GB.
    start = time.monotonic()
    response = shipped_app.test_client().post("/v1/predict", json={"image": data_url(_grey_png(*size)), "mode": mode})
    assert time.monotonic() - start < 5
    if mode in MAX_IMAGE_SIDE:
        assert response.status_code == 400 and "longer side" in response.get_json()["error"]
    else:
        assert response.status_code == 200, response.get_json()


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


def test_ui_page_loads_nothing_from_elsewhere(client: FlaskClient) -> None:
    page = client.get("/ui").get_data(as_text=True)
    assert set(re.findall(r"(?:https?:)?//[\w.-]+[^\s\"'`)]*", page)) <= {"http://www.w3.org/2000/svg"}  # a name only


# Bad input: a JSON error with the right status, never the catch-all handler.

NESTED = "[" * 100_000 + "]" * 100_000  # 200 KB of JSON, too deep for the json module

BAD_POSTS = {
    "missing-image": (dict(json={}), 400, "missing field 'image'"),
    "image-not-a-string": (dict(json={"image": 5}), 400, "missing field 'image'"),
    "body-not-an-object": (dict(json=["data:image/png;base64,AAAA"]), 400, "JSON object"),
    "malformed-json": (dict(data="{", content_type="application/json"), 400, "JSON object"),
    "deeply-nested-json": (dict(data=NESTED, content_type="application/json"), 400, "nested too deeply"),
    "deeply-nested-image": (dict(data=f'{{"image": {NESTED}}}', content_type="application/json"), 400, "nested"),
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


def test_error_messages_show_no_object_addresses(client: FlaskClient, caplog) -> None:
    response = client.post("/v1/predict", data=b"hello, world", content_type="image/png")
    _assert_json_error(response, 400, caplog, "not a readable image")
    assert "0x" not in response.get_json()["error"] and "object at" not in response.get_json()["error"]


@pytest.mark.parametrize("mode, limit", MAX_IMAGE_SIDE.items())
def test_each_mode_refuses_images_longer_than_it_reads(fake, caplog, mode: str, limit: int) -> None:
    client = create_app({mode: fake}).test_client()
    for width, height in ((limit, 1), (1, limit)):
        response = client.post(f"/v1/predict?mode={mode}", data=_grey_png(width, height), content_type="image/png")
        assert response.status_code == 200
    for width, height in ((limit + 1, 1), (1, limit + 1)):
        response = client.post(f"/v1/predict?mode={mode}", data=_grey_png(width, height), content_type="image/png")
        _assert_json_error(response, 400, caplog, f"longer side may be at most {limit} pixels")
    assert len(fake.images) == 2, "an image too long reached the model"


# What gunicorn (and Werkzeug's own server) say of a chunked body: the server ends the stream.
CHUNKED = dict(headers={"Transfer-Encoding": "chunked"}, environ_overrides={"wsgi.input_terminated": True})


@pytest.mark.parametrize("kind", ["raw", "json"])
def test_a_chunked_body_over_the_limit_is_a_413(client, fake, caplog, kind: str) -> None:
    limit = client.application.config["MAX_CONTENT_LENGTH"]
    if kind == "raw":  # an image with trailing bytes, which Pillow ignores: cut at the limit, it would still read
        body, content_type = IMAGE + b"\0" * (limit + 10 - len(IMAGE)), "image/png"
    else:
        body, content_type = json.dumps({"image": data_url(IMAGE), "pad": "x" * limit}).encode(), "application/json"
    response = client.post("/v1/predict", input_stream=io.BytesIO(body), content_type=content_type, **CHUNKED)
    _assert_json_error(response, 413, caplog)
    assert not fake.images


def test_a_chunked_body_under_the_limit_is_read(client, fake) -> None:
    response = client.post("/v1/predict", input_stream=io.BytesIO(IMAGE), content_type="image/png", **CHUNKED)
    assert response.status_code == 200 and (fake.images[0] == read_image(IMAGE)).all()


def _artifacts_with_one_broken(folder: Path, broken: str, missing_file: str) -> Path:
    """`folder` laid out as the shipped artifacts (linked), but with the artifact `broken` lacking `missing_file`."""
    for source in artifacts.ARTIFACTS_DIRNAME.iterdir():
        if source.name != broken:
            (folder / source.name).symlink_to(source, target_is_directory=True)
            continue
        (folder / broken).mkdir()
        for file in source.iterdir():
            if file.name != missing_file:
                (folder / broken / file.name).symlink_to(file)
    return folder


@pytest.mark.parametrize(
    "broken, missing_file, unavailable",
    [
        (DETECTOR_NAME, "model.onnx", {"paragraph"}),
        # The paragraph and page recognizers read their lines with the line model: they go too.
        (SHIPPED_MODELS["iam_lines"], "language_model.arpa.gz", {"line", "paragraph", "page"}),
    ],
    ids=["detector-without-model", "line-model-without-language-model"],
)
def test_an_incomplete_artifact_makes_only_its_modes_unavailable(
    tmp_path, monkeypatch, caplog, broken: str, missing_file: str, unavailable: set[str]
) -> None:
    if not (artifacts.ARTIFACTS_DIRNAME / broken / missing_file).is_file():
        pytest.skip(f"{broken} is not shipped with {missing_file}")
    folder = _artifacts_with_one_broken(tmp_path, broken, missing_file)
    monkeypatch.setattr(artifacts, "ARTIFACTS_DIRNAME", folder)
    monkeypatch.setattr(line_predictor, "ARTIFACTS_DIRNAME", folder)  # where it looks for the best line model
    caplog.set_level(logging.WARNING, logger="api")
    predictors = load_predictors()
    assert set(predictors) == set(MODES) - unavailable
    reasons = [json.loads(r.getMessage()) for r in caplog.records if "mode_unavailable" in r.getMessage()]
    assert {reason["mode"] for reason in reasons} == unavailable
    assert all(missing_file in reason["reason"] and "incomplete" in reason["reason"] for reason in reasons)
    client = create_app(predictors).test_client()
    assert client.get("/").get_json()["modes"] == sorted(set(MODES) - unavailable)
    for mode in unavailable:
        response = client.post("/v1/predict", json={"image": data_url(IMAGE), "mode": mode})
        _assert_json_error(response, 400, caplog, "not available")
    available = sorted(set(MODES) - unavailable)[0]
    character = data_url(CHARACTER_IMAGES[0].read_bytes())
    assert client.post("/v1/predict", json={"image": character, "mode": available}).status_code == 200


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
    "malformed-brackets": ("http://[::1:P/", "malformed url"),
    "ipv4-in-brackets": ("http://[127.0.0.1]/", "malformed url"),
    "6to4-loopback": ("http://[2002:7f00:1::]:{port}/char.png", "not a public address"),
    "site-local-v6": ("http://[fec0::1]/char.png", "not a public address"),
    "nat64-loopback": ("http://[64:ff9b::7f00:1]/char.png", "not a public address"),
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


PUBLIC_ADDRESSES = ["93.184.215.14", "2606:4700::1111", "::ffff:93.184.215.14", "2002:5db8:d70e::1",
                    "64:ff9b::5db8:d70e"]  # fmt: skip
NOT_PUBLIC_ADDRESSES = {
    "6to4-loopback": "2002:7f00:1::",
    "6to4-metadata": "2002:a9fe:a9fe::1",  # 169.254.169.254
    "6to4-private": "2002:a00:1::",  # 10.0.0.1
    "site-local": "fec0::1",
    "site-local-top": "feff::1",
    "teredo": "2001:0:4136:e378:8000:63bf:3fff:fdd2",
    "teredo-to-loopback": "2001:0:7f00:1::1",
    "v4-mapped-private": "::ffff:10.0.0.1",
    "v4-compatible-loopback": "::7f00:1",
    "nat64-loopback": "64:ff9b::7f00:1",
    "nat64-private": "64:ff9b::c0a8:1",  # 192.168.0.1
    "multicast-v6": "ff0e::1",
    "documentation-v6": "2001:db8::1",
    "multicast": "224.0.0.1",
    "broadcast": "255.255.255.255",
}


@pytest.mark.parametrize("address", PUBLIC_ADDRESSES)
def test_public_addresses_are_public(address: str) -> None:
    assert fetch.is_public(ipaddress.ip_address(address))


@pytest.mark.parametrize("address", NOT_PUBLIC_ADDRESSES.values(), ids=NOT_PUBLIC_ADDRESSES.keys())
def test_addresses_that_reach_private_ones_are_not_public(address: str) -> None:
    assert not fetch.is_public(ipaddress.ip_address(address))


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
            "/to-bad-brackets": (302, {"Location": "http://[::1:P/"}, b""),
            "/to-ipv4-brackets": (302, {"Location": "http://[127.0.0.1]/char.png"}, b""),
        }
    )

    def get(path: str):
        return private_client.get("/v1/predict", query_string={"image_url": image_server.url(path)})

    assert get("/moved").status_code == 200
    _assert_json_error(get("/to-file"), 400, caplog, "only http and https")
    _assert_json_error(get("/loop"), 400, caplog, "redirects")
    _assert_json_error(get("/to-bad-brackets"), 400, caplog, "malformed redirect")
    _assert_json_error(get("/to-ipv4-brackets"), 400, caplog, "malformed redirect")
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


TRICKLES = {
    # One header byte every 0.1 s for 4 s: each read is quick, so only a deadline on the whole fetch stops it.
    "headers": (b"HTTP/1.1 200 OK\r\n", b"X-Slow: " + b"a" * 32),
    "body": (b"HTTP/1.1 200 OK\r\nContent-Length: 40\r\n\r\n", b"b" * 40),
}


@pytest.mark.parametrize("prompt, trickle", TRICKLES.values(), ids=TRICKLES.keys())
def test_a_trickling_server_is_given_up_on_at_the_timeout(
    private_client, no_outside_traffic, caplog, prompt: bytes, trickle: bytes
) -> None:
    with trickling_server(prompt, trickle, interval=0.1) as url:
        start = time.monotonic()
        response = private_client.get("/v1/predict", query_string={"image_url": f"{url}/char.png"})
        elapsed = time.monotonic() - start
    _assert_json_error(response, 400, caplog, "timed out")
    assert elapsed < 2.5, f"the fetch took {elapsed:.1f} s against a timeout of 1 s"


def test_the_timeout_bounds_redirects_together(private_client, image_server, no_outside_traffic, caplog) -> None:
    image_server.routes.update(
        {
            "/1": (302, {"Location": "/2"}, b""),
            "/2": (302, {"Location": "/3"}, b""),
            "/3": (302, {"Location": "/char.png"}, b""),
            "/char.png": (200, {}, IMAGE),
        }
    )
    image_server.delay = 0.4  # each answer is in time, but the four of them take 1.6 s against a timeout of 1 s
    response = private_client.get("/v1/predict", query_string={"image_url": image_server.url("/1")})
    _assert_json_error(response, 400, caplog, "timed out")
    assert "/char.png" not in image_server.hits  # given up on along the way


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
