"""Mutated images, posted to the API: each is read, or refused with a JSON 4xx; none reaches the catch-all 500."""

import io
import random

import pytest
from PIL import Image

from api.app import create_app
from api.tests.helpers import CHARACTER_IMAGES, FakePredictor, data_url, mutated

SEED = 20240611
# Formats Pillow writes and the API accepts, each encoding one support image.
FORMATS = ("PNG", "JPEG", "PPM", "BMP", "GIF", "TIFF", "WEBP", "JPEG2000")
# Mutations of each format: the support PNG and its JPEG get the most, being what clients send most.
MUTATIONS = {"PNG": 100, "JPEG": 100}
OTHER_MUTATIONS = 20


def _encodings() -> dict[str, bytes]:
    """The first support character image in each of `FORMATS` (the PNG as shipped)."""
    original = CHARACTER_IMAGES[0].read_bytes()
    image = Image.open(io.BytesIO(original)).convert("RGB")
    encodings = {"PNG": original}
    for format in FORMATS[1:]:
        buffer = io.BytesIO()
        image.save(buffer, format=format)
        encodings[format] = buffer.getvalue()
    return encodings


def _cases() -> list[tuple[str, bytes]]:
    rng = random.Random(SEED)
    cases = []
    for format, data in _encodings().items():
        cases.append((f"{format}-intact", data))
        cases += [(f"{format}-{i}", mutated(data, rng)) for i in range(MUTATIONS.get(format, OTHER_MUTATIONS))]
    return cases


def test_mutated_images_never_reach_the_catch_all(caplog: pytest.LogCaptureFixture) -> None:
    client = create_app({"line": FakePredictor(), "character": FakePredictor()}).test_client()
    statuses: dict[str, int] = {}
    for name, data in _cases():
        # Both ways in: a raw body, and a data URL in JSON, in both modes served.
        mode = "character" if len(statuses) % 2 else "line"
        for response in (
            client.post(f"/v1/predict?mode={mode}", data=data, content_type="image/png"),
            client.post("/v1/predict", json={"image": data_url(data), "mode": mode}),
        ):
            assert response.status_code < 500, (name, response.get_json())
            assert response.status_code in (200, 400), (name, response.get_json())
            assert response.mimetype == "application/json"
            if response.status_code == 400:
                refusals = ("Not a readable image", "Empty", "Image of", "The image has", "Page ")
                assert response.get_json()["error"].startswith(refusals), response.get_json()
            statuses[name] = response.status_code
    assert not [r for r in caplog.records if "unhandled_error" in r.getMessage()]
    # Every intact encoding reads; the mutations are a mix of readable and refused.
    assert all(statuses[f"{format}-intact"] == 200 for format in FORMATS)
    assert {200, 400} <= set(statuses.values())
