"""AWS Lambda entry point: API Gateway events (HTTP API payload 2.0 or REST API payload 1.0) through the Flask app.

    handler({"version": "2.0", "rawPath": "/", "rawQueryString": "", "headers": {},
             "requestContext": {"http": {"method": "GET", "sourceIp": "203.0.113.7", "protocol": "HTTP/1.1"}}}, None)
    # {"statusCode": 200, "headers": {"content-type": "application/json", ...}, "body": '{"default_mode": ...}', ...}

apig-wsgi turns the event into a WSGI request and the app's response into the proxy response; the app validates and
answers exactly as it does behind gunicorn.
"""

import functools
from collections.abc import Callable
from typing import Any

from apig_wsgi import make_lambda_handler

from api.app import create_app

LambdaHandler = Callable[[dict[str, Any], Any], dict[str, Any]]


@functools.cache
def _handler() -> LambdaHandler:
    # Built on the first invocation rather than at import: Lambda's init phase is short, loading models is not.
    # binary_support: REST API responses are text unless asked (HTTP API ones may always be binary); with it, any
    # response that is not text or JSON goes back base64-encoded, as API Gateway wants it.
    return make_lambda_handler(create_app(), binary_support=True)


def handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    """The API Gateway proxy response to a proxy event."""
    return _handler()(event, context)
