"""The Lambda handler on events shaped as API Gateway sends them (HTTP API payload 2.0 and REST API payload 1.0)."""

import base64
import json
from urllib.parse import urlencode

import pytest
from flask import Flask

from api import lambda_handler
from api.app import create_app
from api.tests.helpers import CHARACTER_IMAGES, FakePredictor, ImageServer, data_url
from text_recognizer.util import read_image

PATH = CHARACTER_IMAGES[0]


def http_api_event(method: str, body: str = "", query: dict | None = None, **options) -> dict:
    """An HTTP API (payload format 2.0) event for `method /v1/predict`."""
    headers = {
        "accept": "*/*",
        "content-length": str(len(body)),
        "host": "abcdef1234.execute-api.us-west-2.amazonaws.com",
        "user-agent": "curl/8.5.0",
        "x-amzn-trace-id": "Root=1-65f0a1b2-0123456789abcdef01234567",
        "x-forwarded-for": "203.0.113.7",
        "x-forwarded-port": "443",
        "x-forwarded-proto": "https",
        **options.pop("headers", {}),
    }
    return {
        "version": "2.0",
        "routeKey": f"{method} /v1/predict",
        "rawPath": "/v1/predict",
        "rawQueryString": urlencode(query or {}),
        "headers": headers,
        **({"queryStringParameters": query} if query else {}),
        "requestContext": {
            "accountId": "123456789012",
            "apiId": "abcdef1234",
            "domainName": "abcdef1234.execute-api.us-west-2.amazonaws.com",
            "domainPrefix": "abcdef1234",
            "http": {
                "method": method,
                "path": "/v1/predict",
                "protocol": "HTTP/1.1",
                "sourceIp": "203.0.113.7",
                "userAgent": "curl/8.5.0",
            },
            "requestId": "JKJaXmPLvHcESHA=",
            "routeKey": f"{method} /v1/predict",
            "stage": "$default",
            "time": "10/Mar/2026:12:00:00 +0000",
            "timeEpoch": 1773144000000,
        },
        "body": body,
        "isBase64Encoded": False,
        **options,
    }


def rest_api_event(method: str, body: str | None = None, query: dict | None = None, **options) -> dict:
    """A REST API proxy integration (payload format 1.0) event for `method /v1/predict` on stage dev."""
    headers = {
        "Accept": "*/*",
        "Host": "abcdef1234.execute-api.us-west-2.amazonaws.com",
        "User-Agent": "curl/8.5.0",
        "X-Forwarded-For": "203.0.113.7",
        "X-Forwarded-Port": "443",
        "X-Forwarded-Proto": "https",
        **options.pop("headers", {}),
    }
    return {
        "resource": "/v1/predict",
        "path": "/v1/predict",
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
            "path": "/dev/v1/predict",
            "protocol": "HTTP/1.1",
            "requestId": "c6af9ac6-7b61-11e6-9a41-93e8deadbeef",
            "resourcePath": "/v1/predict",
            "stage": "dev",
        },
        "body": body,
        "isBase64Encoded": False,
        **options,
    }


def json_body(image: bytes, mode: str = "character") -> str:
    return json.dumps({"image": data_url(image), "mode": mode})


@pytest.fixture(scope="module")
def expected(shipped_predictors) -> dict:
    """The answer to PATH in character mode, as the predictor gives it directly."""
    pred, conf = shipped_predictors["character"].predict(read_image(PATH))
    return {"pred": pred, "conf": conf, "mode": "character"}


@pytest.fixture(scope="module")
def app(shipped_predictors) -> Flask:
    """The shipped models, allowed to fetch from loopback for the image_url events."""
    return create_app(shipped_predictors, {"ALLOW_PRIVATE_URLS": True})


def _answer(response: dict) -> dict:
    assert response["isBase64Encoded"] is False
    assert response["headers"]["Content-Type"] == "application/json"
    return json.loads(response["body"])


def test_handler_serves_http_api_json_events_with_one_app(shipped_app, monkeypatch, expected: dict) -> None:
    builds = []

    def build() -> Flask:
        builds.append(1)
        return shipped_app

    monkeypatch.setattr(lambda_handler, "create_app", build)
    lambda_handler._app.cache_clear()
    try:
        event = http_api_event("POST", json_body(PATH.read_bytes()), headers={"content-type": "application/json"})
        responses = [lambda_handler.handler(event, None) for _ in range(2)]
    finally:
        lambda_handler._app.cache_clear()
    assert builds == [1], "the app (and its models) must be built once per Lambda container"
    for response in responses:
        assert response["statusCode"] == 200
        assert _answer(response) == expected


def test_http_api_base64_json_body(app: Flask, expected: dict) -> None:
    body = base64.b64encode(json_body(PATH.read_bytes()).encode()).decode()
    event = http_api_event("POST", body, headers={"content-type": "application/json"}, isBase64Encoded=True)
    response = lambda_handler.respond(app, event)
    assert response["statusCode"] == 200 and _answer(response) == expected


def test_http_api_binary_image_body(app: Flask, expected: dict) -> None:
    # API Gateway hands binary bodies over base64-encoded.
    body = base64.b64encode(PATH.read_bytes()).decode()
    event = http_api_event("POST", body, {"mode": "character"}, headers={"content-type": "image/png"})
    event["isBase64Encoded"] = True
    response = lambda_handler.respond(app, event)
    assert response["statusCode"] == 200 and _answer(response) == expected


def test_http_api_image_url(app: Flask, image_server: ImageServer, expected: dict) -> None:
    image_server.routes["/char.png"] = (200, {"Content-Type": "image/png"}, PATH.read_bytes())
    event = http_api_event("GET", query={"mode": "character", "image_url": image_server.url("/char.png")})
    response = lambda_handler.respond(app, event)
    assert response["statusCode"] == 200 and _answer(response) == expected


def test_rest_api_json_and_image_url(app: Flask, image_server: ImageServer, expected: dict) -> None:
    post = rest_api_event("POST", json_body(PATH.read_bytes()), headers={"Content-Type": "application/json"})
    image_server.routes["/char.png"] = (200, {}, PATH.read_bytes())
    get = rest_api_event("GET", query={"mode": "character", "image_url": image_server.url("/char.png")})
    for event in (post, get):
        response = lambda_handler.respond(app, event)
        assert response["statusCode"] == 200 and _answer(response) == expected


def test_bad_requests_get_the_apps_json_errors() -> None:
    fake = FakePredictor()
    app = create_app({"line": fake, "character": fake})
    json_type = {"content-type": "application/json"}
    cases = [
        (http_api_event("POST", "{}", headers=json_type), 400, "Missing field 'image'"),
        (http_api_event("POST", "hello", headers={"content-type": "text/plain"}), 415, "Send JSON"),
        (http_api_event("POST", json_body(b"not an image"), headers=json_type), 400, "Not a readable image"),
        (http_api_event("POST", "!!not base64!!", headers=json_type, isBase64Encoded=True), 400, "base64"),
        (http_api_event("GET", query={"image_url": "http://169.254.169.254/latest/meta-data/"}), 400, "public"),
        (http_api_event("GET"), 400, "image_url"),
        (http_api_event("PUT", "{}", headers=json_type), 405, "not allowed"),
        (rest_api_event("POST", None, headers={"Content-Type": "application/json"}), 400, "JSON object"),
        (rest_api_event("GET", query={"image_url": "file:///etc/passwd"}), 400, "Only http and https"),
    ]
    for event, status, fragment in cases:
        response = lambda_handler.respond(app, event)
        assert response["statusCode"] == status, response
        assert fragment in _answer(response)["error"]
    assert not fake.images
