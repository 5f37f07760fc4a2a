"""Shared fixtures of the API tests: the shipped predictors, loaded once, and a local image server."""

import threading
from collections.abc import Iterator

import pytest
from flask import Flask

from api.app import Predictor, create_app, load_predictors
from api.tests.helpers import ImageServer


@pytest.fixture(scope="session")
def shipped_predictors() -> dict[str, Predictor]:
    """Every shipped model, loaded once for all the API tests."""
    return load_predictors()


@pytest.fixture(scope="session")
def shipped_app(shipped_predictors: dict[str, Predictor]) -> Flask:
    return create_app(shipped_predictors)


@pytest.fixture
def image_server() -> Iterator[ImageServer]:
    server = ImageServer()
    thread = threading.Thread(target=server.serve_forever, args=(0.05,), daemon=True)
    thread.start()
    yield server
    server.shutdown()
    server.server_close()
