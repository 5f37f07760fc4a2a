"""AWS Lambda entry point: runs API Gateway events (HTTP API v2 or REST API v1) through the Flask app.

    >>> from api.lambda_handler import handler
    >>> handler({"version": "2.0", "rawPath": "/", "requestContext": {"http": {"method": "GET"}}}, None)["body"]
    '{"default_mode":"line","modes":["character","line"],"status":"ok"}\n'

The app validates and answers exactly as it does behind gunicorn; this module only translates the event into a
WSGI request and the response back into what API Gateway expects.
"""

import base64
import binascii
import functools
import json
from typing import Any
from urllib.parse import urlencode

from flask import Flask
from werkzeug.datastructures import Headers
from werkzeug.test import EnvironBuilder
from werkzeug.wrappers import Response

from api.app import create_app


@functools.cache
def _app() -> Flask:
    # Built on the first invocation rather than at import: Lambda's init phase is short, loading models is not.
    return create_app()


def handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    """The API Gateway proxy response to a proxy event."""
    return respond(_app(), event)


def respond(app: Flask, event: dict[str, Any]) -> dict[str, Any]:
    """What `app` answers to an API Gateway event of payload version 2.0 (HTTP API) or 1.0 (REST API)."""
    try:
        body = event.get("body") or ""
        data = base64.b64decode(body, validate=True) if event.get("isBase64Encoded") else body.encode()
    except (binascii.Error, ValueError):
        return _proxy_response(
            400, {"Content-Type": "application/json"}, json.dumps({"error": "Malformed base64 body"})
        )
    if event.get("version") == "2.0":
        http = event["requestContext"]["http"]
        method, path, query = http["method"], event.get("rawPath", "/"), event.get("rawQueryString", "")
        headers = Headers(event.get("headers") or {})
        if event.get("cookies"):
            headers["Cookie"] = "; ".join(event["cookies"])
    else:
        method, path = event["httpMethod"], event.get("path", "/")
        query = urlencode(
            event.get("multiValueQueryStringParameters") or event.get("queryStringParameters") or {}, True
        )
        single = {name: [value] for name, value in (event.get("headers") or {}).items()}
        headers = Headers(
            [(name, v) for name, values in (event.get("multiValueHeaders") or single).items() for v in values]
        )
    headers.remove("Content-Length")  # the decoded body's length is what counts
    environ = EnvironBuilder(path=path, method=method, query_string=query, headers=headers, data=data).get_environ()
    response = Response.from_app(app, environ, buffered=True)
    body_bytes = response.get_data()
    mimetype = response.mimetype or ""
    textual = mimetype.startswith("text/") or mimetype in (
        "application/json",
        "application/javascript",
    )
    return _proxy_response(
        response.status_code,
        {name: ", ".join(response.headers.getlist(name)) for name in response.headers.keys()},
        body_bytes.decode() if textual else base64.b64encode(body_bytes).decode(),
        is_base64=not textual,
    )


def _proxy_response(status: int, headers: dict[str, str], body: str, is_base64: bool = False) -> dict[str, Any]:
    return {"statusCode": status, "headers": headers, "body": body, "isBase64Encoded": is_base64}
