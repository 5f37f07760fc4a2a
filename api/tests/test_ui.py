"""The /ui page end to end in headless Chromium: upload or draw handwriting and read the text the API answers.

Needs Debian's `chromium` and `chromium-driver` (apt-get install -y chromium chromium-driver); no browser download.
"""

import shutil
import threading
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest
from selenium import webdriver
from selenium.webdriver.chrome.service import Service
from selenium.webdriver.common.action_chains import ActionChains
from selenium.webdriver.common.by import By
from selenium.webdriver.support.ui import Select, WebDriverWait
from werkzeug.serving import make_server

from api.app import Predictor, create_app
from api.tests.helpers import CHARACTER_IMAGES, expected_character
from text_recognizer.predictors import Prediction
from text_recognizer.util import read_image

CHROMIUM = shutil.which("chromium")
CHROMEDRIVER = shutil.which("chromedriver")
pytestmark = pytest.mark.skipif(
    not (CHROMIUM and CHROMEDRIVER), reason="needs chromium and chromedriver: apt-get install chromium chromium-driver"
)
BROWSER_FLAGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
    "--window-size=1200,1000",
]


class Recording:
    """A predictor that keeps the images the page sent."""

    def __init__(self, predictor: Predictor):
        self.predictor = predictor
        self.images: list[np.ndarray] = []

    def predict(self, image: np.ndarray) -> Prediction:
        self.images.append(image)
        return self.predictor.predict(image)


@pytest.fixture(scope="module")
def character(shipped_predictors) -> Recording:
    return Recording(shipped_predictors["character"])


@pytest.fixture(scope="module")
def base_url(character: Recording) -> Iterator[str]:
    server = make_server("127.0.0.1", 0, create_app({"character": character}), threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_port}"
    server.shutdown()


@pytest.fixture(scope="module")
def browser() -> Iterator[webdriver.Chrome]:
    options = webdriver.ChromeOptions()
    options.binary_location = str(CHROMIUM)
    for flag in BROWSER_FLAGS:
        options.add_argument(flag)
    driver = webdriver.Chrome(service=Service(str(CHROMEDRIVER)), options=options)
    yield driver
    driver.quit()


def _open(browser: webdriver.Chrome, base_url: str) -> None:
    browser.get(f"{base_url}/ui")
    wait = WebDriverWait(browser, 20)
    wait.until(lambda b: b.find_elements(By.CSS_SELECTOR, "#mode option"))  # filled in from GET /
    Select(browser.find_element(By.ID, "mode")).select_by_value("character")


def _answer(browser: webdriver.Chrome) -> tuple[str, str, str]:
    """(text, confidence, error) once the page shows an answer or an error."""

    def text(name: str) -> str:
        return browser.find_element(By.ID, name).text

    WebDriverWait(browser, 30).until(lambda _: text("conf") or text("error"))
    return text("result"), text("conf"), text("error")


def test_upload_an_image_and_read_its_text(browser: webdriver.Chrome, base_url: str, character: Recording) -> None:
    _open(browser, base_url)
    # A character the model reads right, so that the page must show the right text.
    path = next(p for p in CHARACTER_IMAGES if character.predictor.predict(read_image(p)).text == expected_character(p))
    browser.find_element(By.ID, "file").send_keys(str(path))
    send = browser.find_element(By.ID, "send-file")
    WebDriverWait(browser, 10).until(lambda _: send.is_enabled())
    send.click()
    text, conf, error = _answer(browser)
    expected_conf = character.predictor.predict(read_image(path)).confidence
    assert (text, error) == (expected_character(path), "")
    assert float(conf) == pytest.approx(expected_conf, abs=1e-3)


def test_draw_and_read_the_drawing(browser: webdriver.Chrome, base_url: str, character: Recording) -> None:
    _open(browser, base_url)
    canvas = browser.find_element(By.ID, "canvas")
    strokes = ActionChains(browser).move_to_element_with_offset(canvas, 0, -60).click_and_hold()
    for _ in range(12):  # a vertical stroke through the middle
        strokes.move_by_offset(0, 10)
    strokes.release().perform()
    sent_before = len(character.images)
    browser.find_element(By.ID, "send-drawing").click()
    text, conf, error = _answer(browser)
    assert error == ""
    [drawing] = character.images[sent_before:]
    assert drawing.shape == (200, 200)  # the whole (square, for a character) canvas, in grey levels
    assert np.median(drawing) == 255 and drawing.min() < 64  # dark ink on white paper
    expected = character.predictor.predict(drawing)
    assert text == expected.text and float(conf) == pytest.approx(expected.confidence, abs=1e-3)


def test_a_file_that_is_not_an_image_shows_the_apis_error(
    browser: webdriver.Chrome, base_url: str, tmp_path: Path
) -> None:
    _open(browser, base_url)
    bad = tmp_path / "notes.txt"
    bad.write_text("not handwriting")
    browser.find_element(By.ID, "file").send_keys(str(bad))
    send = browser.find_element(By.ID, "send-file")
    WebDriverWait(browser, 10).until(lambda _: send.is_enabled())
    send.click()
    text, conf, error = _answer(browser)
    assert (text, conf) == ("", "") and "Not a readable image" in error
