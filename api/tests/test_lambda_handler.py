"""The Lambda handler on events shaped as API Gateway sends them: HTTP API (payload 2.0) and REST API (payload 1.0).

The app serves fake predictors: what is tested is the translation (apig-wsgi's), not the models.
"""

import base64
import json
from collections.abc import Iterator
from urllib.parse import urlencode

import numpy as np
import pytest
from flask import Flask, Response

from api import lambda_handler
from api.app import create_app
from api.tests.helpers import CHARACTER_IMAGES, FakePredictor, ImageServer, data_url
from text_recognizer.util import decode_image

PATH = CHARACTER_IMAGES[0]
HOST = "abcdef1234.execute-api.us-west-2.amazonaws.com"
PNG_ROUTE = "/test/image.png"  # a route added to the app: the API itself answers only JSON and HTML


def http_api_event(
    method: str,
    path: str = "/v1/predict",
    body: bytes = b"",
    query: dict | None = None,
    headers: dict | None = None,
    base64_body: bool = False,
) -> dict:
    """An HTTP API event (payload 2.0): lower-case headers, the raw query string, a base64 body when binary."""
    headers = {
        "accept": "*/*",
        "content-length": str(len(body)),
        "host": HOST,
        "user-agent": "curl/8.5.0",
        "x-amzn-trace-id": "Root=1-65f0a1b2-0123456789abcdef01234567",
        "x-forwarded-for": "203.0.113.7",
        "x-forwarded-port": "443",
        "x-forwarded-proto": "https",
        **(headers or {}),
    }
    return {
        "version": "2.0",
        "routeKey": f"{method} {path}",
        "rawPath": path,
        "rawQueryString": urlencode(query or {}),
        "headers": headers,
        **({"queryStringParameters": query} if query else {}),
        "requestContext": {
            "accountId": "123456789012",
            "apiId": "abcdef1234",
            "domainName": HOST,
            "domainPrefix": "abcdef1234",
            "http": {
                "method": method,
                "path": path,
                "protocol": "HTTP/1.1",
                "sourceIp": "203.0.113.7",
                "userAgent": "curl/8.5.0",
            },
            "requestId": "JKJaXmPLvHcESHA=",
            "routeKey": f"{method} {path}",
            "stage": "$default",
            "time": "10/Mar/2026:12:00:00 +0000",
            "timeEpoch": 1773144000000,
        },
        **({"body": base64.b64encode(body).decode() if base64_body else body.decode()} if body else {}),
        "isBase64Encoded": base64_body,
    }


def rest_api_event(
    method: str,
    path: str = "/v1/predict",
    body: bytes | None = None,
    query: dict | None = None,
    headers: dict | None = None,
    base64_body: bool = False,
) -> dict:
    """A REST API proxy integration event (payload 1.0) on stage dev: single- and multi-value headers and query."""
    headers = {
        "Accept": "*/*",
        **({"Content-Length": str(len(body))} if body is not None else {}),
        "Host": HOST,
        "User-Agent": "curl/8.5.0",
        "X-Forwarded-For": "203.0.113.7",
        "X-Forwarded-Port": "443",
        "X-Forwarded-Proto": "https",
        **(headers or {}),
    }
    if body is not None:
        text_body = base64.b64encode(body).decode() if base64_body else body.decode()
    return {
        "resource": path,
        "path": path,
        "httpMethod": method,
        "headers": headers,
        "multiValueHeaders": {name: [value] for name, value in headers.items()},
        "queryStringParameters": query,
        "multiValueQueryStringParameters": {k: [v] for k, v in query.items()} if query else None,
        "pathParameters": None,
        "stageVariables": None,
        "requestContext": {
            "accountId": "123456789012",
            "apiId": "abcdef1234",
            "httpMethod": method,
            "identity": {"sourceIp": "203.0.113.7", "userAgent": "curl/8.5.0"},
            "path": f"/dev{path}",
            "protocol": "HTTP/1.1",
            "requestId": "c6af9ac6-7b61-11e6-9a41-93e8deadbeef",
            "resourcePath": path,
            "stage": "dev",
        },
        "body": text_body if body is not None else None,
        "isBase64Encoded": base64_body,
    }


@pytest.fixture
def fake() -> FakePredictor:
    return FakePredictor()


def _serve(monkeypatch: pytest.MonkeyPatch, fake: FakePredictor, config: dict) -> Iterator[list[Flask]]:
    """Makes the handler build an app of fakes, with `config`; lists each app it builds."""
    built: list[Flask] = []

    def build() -> Flask:
        app = create_app({"line": fake, "character": fake}, config)
        app.add_url_rule(PNG_ROUTE, "png", lambda: Response(PATH.read_bytes(), mimetype="image/png"))
        built.append(app)
        return app

    monkeypatch.setattr(lambda_handler, "create_app", build)
    lambda_handler._handler.cache_clear()
    yield built
    lambda_handler._handler.cache_clear()


@pytest.fixture
def builds(monkeypatch: pytest.MonkeyPatch, fake: FakePredictor) -> Iterator[list[Flask]]:
    """The handler on the app as deployed: image_url may reach public addresses only."""
    yield from _serve(monkeypatch, fake, {})


@pytest.fixture
def loopback_builds(monkeypatch: pytest.MonkeyPatch, fake: FakePredictor) -> Iterator[list[Flask]]:
    """The handler on an app allowed to fetch from loopback, where the tests' image server is."""
    yield from _serve(monkeypatch, fake, {"ALLOW_PRIVATE_URLS": True})


def handle(event: dict) -> dict:
    return lambda_handler.handler(event, None)


def headers_of(response: dict) -> dict[str, str]:
    """The response's headers, lower-cased: v2 has `headers`; v1, given multi-value headers, `multiValueHeaders`."""
    if "multiValueHeaders" in response:
        return {name.lower(): ", ".join(values) for name, values in response["multiValueHeaders"].items()}
    return {name.lower(): value for name, value in response["headers"].items()}


def answer(response: dict, status: int = 200) -> dict:
    assert response["statusCode"] == status, response
    assert response["isBase64Encoded"] is False, "JSON goes back as text"
    assert headers_of(response)["content-type"] == "application/json"
    return json.loads(response["body"])


def json_body(mode: str = "character") -> bytes:
    return json.dumps({"image": data_url(PATH.read_bytes()), "mode": mode}).encode()


CHARACTER_ANSWER = {"pred": "fake", "conf": 0.5, "mode": "character"}
JSON = {"content-type": "application/json"}
PNG = {"content-type": "image/png"}


def assert_read_the_image(fake: FakePredictor, times: int = 1) -> None:
    assert len(fake.images) == times
    for image in fake.images:
        np.testing.assert_array_equal(image, decode_image(PATH.read_bytes()))


def test_the_app_is_built_on_the_first_invocation_only(builds: list[Flask], fake: FakePredictor) -> None:
    assert builds == [], "nothing is built at import: Lambda's init phase is short"
    responses = [handle(http_api_event("POST", body=json_body(), headers=JSON)) for _ in range(2)]
    assert len(builds) == 1, "the app (and its models) must be built once per Lambda container"
    for response in responses:
        assert CHARACTER_ANSWER.items() <= answer(response).items()
    assert_read_the_image(fake, times=2)


def test_health(builds: list[Flask]) -> None:
    for event in (http_api_event("GET", "/"), rest_api_event("GET", "/")):
        assert answer(handle(event)) == {"status": "ok", "modes": ["character", "line"], "default_mode": "line"}


@pytest.mark.parametrize("make_event", [http_api_event, rest_api_event], ids=["http_api", "rest_api"])
def test_json_bodies_plain_and_base64(builds: list[Flask], fake: FakePredictor, make_event) -> None:
    # API Gateway base64-encodes a body whose media type it treats as binary, whatever it holds.
    for base64_body in (False, True):
        response = handle(make_event("POST", body=json_body(), headers=JSON, base64_body=base64_body))
        assert CHARACTER_ANSWER.items() <= answer(response).items()
    assert_read_the_image(fake, times=2)


@pytest.mark.parametrize("make_event", [http_api_event, rest_api_event], ids=["http_api", "rest_api"])
def test_binary_image_bodies(builds: list[Flask], fake: FakePredictor, make_event) -> None:
    event = make_event("POST", body=PATH.read_bytes(), query={"mode": "character"}, headers=PNG, base64_body=True)
    response = handle(event)
    assert CHARACTER_ANSWER.items() <= answer(response).items()
    assert_read_the_image(fake)


@pytest.mark.parametrize("make_event", [http_api_event, rest_api_event], ids=["http_api", "rest_api"])
def test_image_url_in_the_query(
    loopback_builds: list[Flask], fake: FakePredictor, image_server: ImageServer, make_event
) -> None:
    image_server.routes["/char.png"] = (200, {"Content-Type": "image/png"}, PATH.read_bytes())
    response = handle(make_event("GET", query={"mode": "character", "image_url": image_server.url("/char.png")}))
    assert CHARACTER_ANSWER.items() <= answer(response).items()
    assert image_server.hits == ["/char.png"]
    assert_read_the_image(fake)


@pytest.mark.parametrize("make_event", [http_api_event, rest_api_event], ids=["http_api", "rest_api"])
def test_binary_responses_go_back_base64(builds: list[Flask], make_event) -> None:
    response = handle(make_event("GET", PNG_ROUTE))
    assert response["statusCode"] == 200 and headers_of(response)["content-type"] == "image/png"
    assert response["isBase64Encoded"] is True
    assert base64.b64decode(response["body"]) == PATH.read_bytes()


def test_html_goes_back_as_text(builds: list[Flask]) -> None:
    response = handle(http_api_event("GET", "/ui"))
    assert response["statusCode"] == 200 and response["isBase64Encoded"] is False
    assert "<html" in response["body"].lower()


def test_bad_requests_get_the_apps_json_errors(builds: list[Flask], fake: FakePredictor) -> None:
    cases = [
        (http_api_event("POST", body=b"{}", headers=JSON), 400, "Missing field 'image'"),
        (http_api_event("POST", body=b"hello", headers={"content-type": "text/plain"}), 415, "Send JSON"),
        (
            http_api_event("POST", body=json.dumps({"image": data_url(b"no")}).encode(), headers=JSON),
            400,
            "Not a readable",
        ),
        (http_api_event("POST", body=b"not a png", headers=PNG, base64_body=True), 400, "Not a readable image"),
        (http_api_event("GET", query={"image_url": "http://169.254.169.254/latest/meta-data/"}), 400, "public"),
        (http_api_event("GET"), 400, "image_url"),
        (http_api_event("PUT", body=b"{}", headers=JSON), 405, "not allowed"),
        (rest_api_event("POST", headers={"Content-Type": "application/json"}), 400, "JSON object"),
        (rest_api_event("GET", query={"image_url": "file:///etc/passwd"}), 400, "Only http and https"),
        (rest_api_event("POST", body=json_body("cursive"), headers=JSON), 400, "Unknown mode"),
    ]
    for event, status, fragment in cases:
        assert fragment in answer(handle(event), status)["error"]
    assert not fake.images
