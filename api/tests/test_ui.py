"""The /ui page end to end in headless Chromium: upload or draw handwriting and read the text the API answers; read
a 3-page PDF, see its lines' boxes, change pages and download it; and an hOCR answer shown with its word boxes.

Needs Debian's `chromium` and `chromium-driver` (apt-get install -y chromium chromium-driver); no browser download.
Screenshots go to data/screenshots/ (git-ignored): ui-document.png (page 2 of the PDF, read) and hocr.png.
"""

import base64
import json
import shutil
import threading
import time
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
from api.tests.helpers import CHARACTER_IMAGES, PAGE_BINARIZED, expected_character, pdf_of
from text_recognizer.documents import FORMATS
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
SCREENSHOTS = Path(__file__).resolve().parents[2] / "data" / "screenshots"


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
def base_url(character: Recording, shipped_predictors) -> Iterator[str]:
    app = create_app({"character": character, "page": shipped_predictors["page"]})
    server = make_server("127.0.0.1", 0, app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_port}"
    server.shutdown()


@pytest.fixture(scope="module")
def downloads(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("downloads")


@pytest.fixture(scope="module")
def browser(downloads: Path) -> Iterator[webdriver.Chrome]:
    options = webdriver.ChromeOptions()
    options.binary_location = str(CHROMIUM)
    for flag in BROWSER_FLAGS:
        options.add_argument(flag)
    options.add_experimental_option(
        "prefs", {"download.default_directory": str(downloads), "download.prompt_for_download": False}
    )
    driver = webdriver.Chrome(service=Service(str(CHROMEDRIVER)), options=options)
    yield driver
    driver.quit()


def _open(browser: webdriver.Chrome, base_url: str, mode: str | None = "character") -> None:
    browser.get(f"{base_url}/ui")
    wait = WebDriverWait(browser, 20)
    wait.until(lambda b: b.find_elements(By.CSS_SELECTOR, "#mode option"))  # filled in from GET /
    if mode is not None:
        Select(browser.find_element(By.ID, "mode")).select_by_value(mode)


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


# Documents: a PDF read page by page, downloaded in a format; an hOCR answer shown as it is.


def _lines(browser: webdriver.Chrome) -> list[str]:
    return [
        item.find_element(By.CLASS_NAME, "text").text for item in browser.find_elements(By.CSS_SELECTOR, "#lines li")
    ]


def _drawn_boxes(browser: webdriver.Chrome) -> int:
    """How many line boxes are drawn over the page, each with an area on screen."""
    script = """return [...document.querySelectorAll('#boxes rect')]
        .filter((box) => { const r = box.getBoundingClientRect(); return r.width > 1 && r.height > 1; }).length;"""
    return browser.execute_script(script)


def test_read_a_pdf_page_by_page_and_download_it(
    browser: webdriver.Chrome, base_url: str, tmp_path: Path, downloads: Path
) -> None:
    _open(browser, base_url, mode=None)
    pdf = tmp_path / "three-pages.pdf"
    pdf.write_bytes(pdf_of())
    browser.find_element(By.ID, "file").send_keys(str(pdf))
    assert browser.find_element(By.ID, "mode").get_attribute("value") == "page"  # a PDF defaults to the page model
    send = browser.find_element(By.ID, "send-file")
    WebDriverWait(browser, 10).until(lambda _: send.is_enabled())
    send.click()
    WebDriverWait(browser, 60).until(lambda b: _lines(b) or b.find_element(By.ID, "error").text)
    assert browser.find_element(By.ID, "error").text == ""
    assert browser.find_element(By.ID, "page-count").text == "3"
    first = _lines(browser)
    assert _drawn_boxes(browser) == len(first) > 0
    image = browser.find_element(By.ID, "page-image").get_attribute("href") or ""
    assert image.startswith("data:image/png;base64,")

    # Hovering a line highlights its box.
    ActionChains(browser).move_to_element(browser.find_element(By.CSS_SELECTOR, "#lines li")).perform()
    active = browser.find_elements(By.CSS_SELECTOR, "#boxes rect.active")
    assert len(active) == 1 and active[0] == browser.find_element(By.CSS_SELECTOR, "#boxes rect")

    Select(browser.find_element(By.ID, "page")).select_by_visible_text("2")
    WebDriverWait(browser, 10).until(lambda b: _lines(b) != first)
    assert _drawn_boxes(browser) == len(_lines(browser)) > 0
    assert browser.find_element(By.ID, "page-image").get_attribute("href") != image
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    browser.save_screenshot(str(SCREENSHOTS / "ui-document.png"))
    loaded = browser.execute_script("return performance.getEntriesByType('resource').map((entry) => entry.name);")
    assert all(name.startswith((base_url, "data:", "blob:")) for name in loaded), loaded  # nothing from elsewhere

    # PAGE XML of the page shown: posted again with format=page&page=2&download=1, saved from the answer.
    browser.find_element(By.CSS_SELECTOR, '#downloads button[data-format="page"]').click()
    link = browser.find_element(By.ID, "download-link")
    WebDriverWait(browser, 60).until(lambda b: link.text or b.find_element(By.ID, "error").text)
    assert browser.find_element(By.ID, "error").text == ""
    name = f"three-pages_page2{FORMATS['page'].extension}"
    href = link.get_attribute("href") or ""
    assert link.get_attribute("download") == name and href.startswith("blob:")
    saved = browser.execute_async_script(
        "const done = arguments[1]; fetch(arguments[0]).then((r) => r.text()).then(done, (e) => done(String(e)));",
        href,
    )
    assert "PcGts" in saved and _lines(browser)[0] in saved
    deadline = time.monotonic() + 10
    while not (downloads / name).is_file() and time.monotonic() < deadline:
        time.sleep(0.1)
    assert (downloads / name).read_text() == saved


HOCR_VIEWER = """<style>
  .ocr_page { position: relative; background: url(%s) 0 0 / 100%% 100%%; transform-origin: 0 0; }
  .ocrx_word { position: absolute; outline: 2px solid rgb(220 0 0 / .8); color: transparent; }
</style>
<script>
  // Each element at its bbox (x0 y0 x1 y1, in the page's pixels), the page scaled to fit the window.
  const bbox = (element) => /bbox (\\d+) (\\d+) (\\d+) (\\d+)/.exec(element.title).slice(1).map(Number);
  for (const page of document.querySelectorAll(".ocr_page")) {
    const [, , width, height] = bbox(page);
    Object.assign(page.style, {width: `${width}px`, height: `${height}px`,
                               transform: `scale(${innerHeight / height})`});
    for (const word of page.querySelectorAll(".ocrx_word")) {
      const [x0, y0, x1, y1] = bbox(word);
      Object.assign(word.style, {left: `${x0}px`, top: `${y0}px`, width: `${x1 - x0}px`, height: `${y1 - y0}px`});
    }
  }
</script>
"""


def test_an_hocr_answer_shows_its_word_boxes(browser: webdriver.Chrome, shipped_predictors, tmp_path: Path) -> None:
    client = create_app({"page": shipped_predictors["page"]}).test_client()
    response = client.post("/v1/predict?mode=page&format=hocr", data=PAGE_BINARIZED.read_bytes(),
                           content_type="image/png")  # fmt: skip
    assert response.status_code == 200
    background = "data:image/png;base64," + base64.b64encode(PAGE_BINARIZED.read_bytes()).decode()
    hocr = response.get_data(as_text=True)
    page = tmp_path / "page.hocr.html"
    page.write_text(hocr.replace("</body>", HOCR_VIEWER % json.dumps(background) + "</body>"))
    browser.get(page.as_uri())
    words = browser.execute_script("""return [...document.querySelectorAll('.ocrx_word')].map((word) => {
        const box = word.getBoundingClientRect();
        return {title: word.title, text: word.textContent, width: box.width, height: box.height}; });""")
    assert words, "no ocrx_word elements"
    assert all(word["title"].startswith("bbox ") and word["width"] > 1 and word["height"] > 1 for word in words)
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    browser.save_screenshot(str(SCREENSHOTS / "hocr.png"))
