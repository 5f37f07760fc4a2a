"""Reads a paragraph of handwriting: the line detector finds the lines, the line predictor reads each one.

    >>> from text_recognizer.predictors import ParagraphTextRecognizer
    >>> prediction = ParagraphTextRecognizer().predict("text_recognizer/tests/support/iam_paragraphs/a01-014.png")
    >>> print(prediction.text)              # the lines, top to bottom, joined with newlines
    >>> prediction.lines[0].box, prediction.lines[0].confidence

The detector labels each pixel of the paragraph, shrunk to its input size, as background, odd line or even line. Each
connected region of one line class becomes a line box, scaled back to the full-resolution page, from which the line
is cut and read.

Whole pages (a scanned or photographed form: printed header, rules, margins) read with `PageTextRecognizer`: the
page detector (`LineDetectorModel_IamPagesDataset_fcn`) sees the page at a fixed scale (620 pixels wide, a
handwritten line 20-30 pixels high) and labels each pixel background, odd or even handwritten line, or printed text;
the page is straightened first when its lines are tilted (`page_skew`). Lines come in reading order, printed ones
first, each with its `kind`; the prediction's text is the handwriting's.

    >>> from text_recognizer.predictors.page import PageTextRecognizer
    >>> prediction = PageTextRecognizer().predict("text_recognizer/tests/support/iam_pages/a01-014.jpg")
    >>> [line.kind for line in prediction.lines][:6]
    ['printed', 'printed', 'printed', 'printed', 'printed', 'handwritten']
"""

from collections.abc import Sequence

import cv2
import numpy as np

from text_recognizer.artifacts import load_artifact
from text_recognizer.predictors.base import Box, Line, Prediction, Predictor, Word
from text_recognizer.predictors.line import LinePredictor
from text_recognizer.preprocessing import prepare_page, prepare_paragraph

DETECTOR_NAME = "LineDetectorModel_IamParagraphsDataset_fcn"
PAGE_DETECTOR_NAME = "LineDetectorModel_IamPagesDataset_fcn"
PRINTED = 3  # the page detector's class of printed text
# A handwritten line the page detector is less sure of than this (`line_probability`) is no line of the text: on
# forms, the signature beside "Name:" below the text (which its labels call background) comes out at about 0.7-0.8,
# the text's lines at 0.87 or more. On IAM's 56 validation pages every value from 0.83 to 0.86 gives the most exact
# line counts (98.2%; 94.6% without the check): this is the middle of that range (see
# `evaluation/evaluate_page_text_recognizer.py --split validation --min-line-probability P`).
MIN_LINE_PROBABILITY = 0.845
# Skew angles (degrees) `page_skew` tries: photos and scans of pages lie within a few degrees of straight.
SKEW_ANGLES = np.arange(-6.0, 6.01, 0.25)
MIN_SKEW_DEGREES = 1.0  # a page tilted less is read as it is
# A detected region smaller than this share of the input is a speck (a stray mark or a dot), not a line.
MIN_REGION_FRACTION = 0.0005
# Page pixels added around each detected box, per pixel of its height: the detector's maps hug the ink's core, while
# ascenders, descenders and the line predictor's training crops reach a little further.
BOX_PADDING = (0.02, 0.15)  # (horizontal, vertical) fractions of the box height
# Two regions sharing more than this fraction of the lower one's height are pieces of one line.
MIN_SHARED_HEIGHT = 0.5


def line_boxes(maps: np.ndarray, scale: float, image_shape: tuple[int, int]) -> list[Box]:
    """Line boxes, top to bottom, in the pixels of an image `image_shape` high and wide, from the detector's
    (size, size, 3) class probabilities for it as prepared at `scale`."""
    labels = maps.argmax(axis=-1)
    kernel = cv2.getStructuringElement(cv2.MORPH_RECT, (5, 1))
    min_area = MIN_REGION_FRACTION * labels.size
    regions: list[Box] = []
    for line_class in (1, 2):
        # Opening removes specks; the wide kernel keeps thin gaps between vertically adjacent lines open.
        mask = cv2.morphologyEx((labels == line_class).astype(np.uint8), cv2.MORPH_OPEN, kernel)
        contours, _ = cv2.findContours(mask, cv2.RETR_EXTERNAL, cv2.CHAIN_APPROX_SIMPLE)
        for contour in contours:
            if cv2.contourArea(contour) >= min_area:
                x, y, w, h = cv2.boundingRect(contour)
                regions.append((x, y, w, h))
    height, width = image_shape
    boxes = []
    for x, y, w, h in (np.array(region) / scale for region in _merge_fragments(regions)):
        pad_x, pad_y = BOX_PADDING[0] * h, BOX_PADDING[1] * h
        x0, y0 = max(0, round(x - pad_x)), max(0, round(y - pad_y))
        x1, y1 = min(width, round(x + w + pad_x)), min(height, round(y + h + pad_y))
        if x1 > x0 and y1 > y0:
            boxes.append((x0, y0, x1 - x0, y1 - y0))
    return boxes


def _merge_fragments(regions: list[Box]) -> list[Box]:
    """Regions sorted top to bottom, those sharing most of their height joined: where the detector's odd/even label
    flips partway along a line, or a wide gap between words breaks it, the pieces sit side by side, not one above the
    other as separate lines do."""
    merged: list[Box] = []
    for x, y, w, h in sorted(regions, key=lambda region: region[1] + region[3] / 2):
        if merged:
            mx, my, mw, mh = merged[-1]
            overlap = min(my + mh, y + h) - max(my, y)
            if overlap > MIN_SHARED_HEIGHT * min(mh, h):
                left, top = min(mx, x), min(my, y)
                merged[-1] = (left, top, max(mx + mw, x + w) - left, max(my + mh, y + h) - top)
                continue
        merged.append((x, y, w, h))
    return merged


def _placed(line: Line, box: Box, kind: str = "handwritten", turn: tuple[float, tuple[int, int]] | None = None) -> Line:
    """A line read from the crop `box` of a page, in the page's pixels: its box and words' moved by the box's corner,
    then, for a page `deskew`ed by `turn`'s angle (`turn`: it and the page's shape before), through `_unturn`."""
    x, y = box[:2]

    def place(inner: Box) -> Box:
        moved = (x + inner[0], y + inner[1], inner[2], inner[3])
        return moved if turn is None else _unturn(moved, *turn)

    words = tuple(Word(place(word.box), word.text, word.confidence) for word in line.words)
    return Line(place((0, 0, box[2], box[3])), line.text, line.confidence, kind, words)


class ParagraphTextRecognizer(Predictor):
    """Loads the shipped line detector and the line predictor for `line_model` (IAM's by default).

    A prediction's confidence is its least confident line's (0 when no line is found): a page is as sure as its
    worst line.

    Args:
        line_model: which line model reads the detected lines (see `LinePredictor`).
    """

    def __init__(self, line_model: str = "iam_lines"):
        self.detector = load_artifact(DETECTOR_NAME)
        if self.detector.spec["kind"] != "line_detector":
            raise ValueError(f"{DETECTOR_NAME} is a {self.detector.spec['kind']} model, not a line detector")
        self.size: int = self.detector.spec["preprocessing"]["size"]
        self.line_predictor = LinePredictor(line_model)

    def predict_pages(self, pages: Sequence[np.ndarray]) -> list[Prediction]:
        if not pages:
            return []
        prepared, scales = zip(*(prepare_paragraph(page, self.size) for page in pages), strict=True)
        maps = self.detector.run(np.stack(prepared))
        predictions = []
        for page, page_maps, scale in zip(pages, maps, scales, strict=True):
            boxes = line_boxes(page_maps, scale, page.shape)
            read = self.line_predictor.predict_pages([page[y : y + h, x : x + w] for x, y, w, h in boxes])
            lines = tuple(_placed(p.lines[0], box) for box, p in zip(boxes, read, strict=True))
            confidence = min((line.confidence for line in lines), default=0.0)
            predictions.append(Prediction("\n".join(line.text for line in lines), confidence, lines))
        return predictions


def page_lines(
    maps: np.ndarray, scale: float, image_shape: tuple[int, int], min_line_probability: float = 0.0
) -> list[tuple[Box, str]]:
    """(box, kind) of each line, printed lines first (IAM prints above the handwriting), each kind top to bottom, in
    the pixels of an image `image_shape` high and wide whose page detector maps (H, W, 4) are `maps` at `scale`.

    A handwritten line whose pixels the detector calls line with a mean probability below `min_line_probability`
    (see `MIN_LINE_PROBABILITY`) is left out."""
    labels = maps.argmax(axis=-1)
    one_hot = np.eye(3, dtype=np.float32)
    # `line_boxes` reads classes 1 and 2 of a 3-class map: the handwritten lines as they are, printed text as class 1.
    handwritten = line_boxes(one_hot[np.where(labels == PRINTED, 0, labels)], scale, image_shape)
    if min_line_probability > 0:
        handwritten = [box for box in handwritten if line_probability(maps, box, scale) >= min_line_probability]
    # The detector marks the middle half of a printed line (as it was trained), but blurred by its stride of 4 and
    # padded by `line_boxes` that band comes out about as high as the line's ink: used as it is.
    printed = line_boxes(one_hot[(labels == PRINTED).astype(np.int64)], scale, image_shape)
    return [(box, "printed") for box in printed] + [(box, "handwritten") for box in handwritten]


def line_probability(maps: np.ndarray, box: Box, scale: float) -> float:
    """How sure the page detector is of a handwritten line: the mean probability of line (odd or even) over the
    pixels of its box (page pixels; the maps are at `scale`) that it labels line."""
    x, y, w, h = (round(value * scale) for value in box)
    line = maps[y : y + h, x : x + w, 1] + maps[y : y + h, x : x + w, 2]
    labelled = line[line > 0.5]
    return float(labelled.mean()) if labelled.size else 0.0


def page_skew(image: np.ndarray) -> float:
    """The angle (degrees, counter-clockwise) by which a prepared page's lines (white ink on black) are tilted.

    Rows of ink are sharpest, their sums most uneven, when the page is turned back by that angle (a projection
    profile); rotate the page by minus the angle (`deskew`) before detecting lines, so that line boxes stay apart.
    """
    centre = (image.shape[1] / 2, image.shape[0] / 2)
    ink = image.astype(np.float32)

    def sharpness(angle: float) -> float:
        turned = cv2.warpAffine(ink, cv2.getRotationMatrix2D(centre, angle, 1.0), image.shape[::-1])
        return float(np.var(turned.sum(axis=1)))

    # Turning by -angle straightens a page tilted by angle.
    return -float(max(SKEW_ANGLES, key=sharpness))


def deskew(page: np.ndarray, angle: float) -> np.ndarray:
    """A page (dark ink on light) turned by minus `angle` degrees about its centre, the corners filled with paper."""
    centre = (page.shape[1] / 2, page.shape[0] / 2)
    paper = int(np.median(page[::8, ::8]))
    matrix = cv2.getRotationMatrix2D(centre, -angle, 1.0)
    return cv2.warpAffine(page, matrix, page.shape[::-1], flags=cv2.INTER_LINEAR, borderValue=paper)


def _unturn(box: Box, angle: float, shape: tuple[int, int]) -> Box:
    """The box, in a page `deskew`ed by `angle`, as the box bounding it in the page before (`shape` high, wide)."""
    x, y, w, h = box
    centre = (shape[1] / 2, shape[0] / 2)
    corners = np.array([[x, y], [x + w, y], [x, y + h], [x + w, y + h]], np.float64)
    turned = cv2.transform(corners[None], cv2.getRotationMatrix2D(centre, angle, 1.0))[0]
    x0, y0 = np.maximum(np.floor(turned.min(axis=0)), 0).astype(int)
    x1, y1 = np.minimum(np.ceil(turned.max(axis=0)), [shape[1], shape[0]]).astype(int)
    return int(x0), int(y0), int(x1 - x0), int(y1 - y0)


class PageTextRecognizer(Predictor):
    """Reads whole pages with the shipped page detector and the line predictor for `line_model` (IAM's by default).

    Printed lines are read by the same line model (a handwriting reader: their text is a rough one); the prediction's
    text is the handwritten lines' and its confidence their least confident one's (0 when none is found).

    Args:
        line_model: which line model reads the detected lines (see `LinePredictor`).
        min_line_probability: handwritten lines the detector is less sure of are left out (`MIN_LINE_PROBABILITY`).
    """

    def __init__(self, line_model: str = "iam_lines", min_line_probability: float = MIN_LINE_PROBABILITY):
        self.min_line_probability = min_line_probability
        self.detector = load_artifact(PAGE_DETECTOR_NAME)
        if self.detector.spec["kind"] != "line_detector":
            raise ValueError(f"{PAGE_DETECTOR_NAME} is a {self.detector.spec['kind']} model, not a line detector")
        spec = self.detector.spec["preprocessing"]
        self.width: int = spec["width"]
        self.multiple: int = spec["multiple"]
        self.line_predictor = LinePredictor(line_model)

    def predict_pages(self, pages: Sequence[np.ndarray]) -> list[Prediction]:
        return [self._read(page) for page in pages]  # one at a time: pages differ in size

    def _read(self, page: np.ndarray) -> Prediction:
        image, scale = prepare_page(page, self.width, self.multiple)
        angle = page_skew(image)
        straight = page
        if abs(angle) >= MIN_SKEW_DEGREES:
            straight = deskew(page, angle)
            image, scale = prepare_page(straight, self.width, self.multiple)
        found = page_lines(self.detector.run(image[None])[0], scale, straight.shape, self.min_line_probability)
        read = self.line_predictor.predict_pages([straight[y : y + h, x : x + w] for (x, y, w, h), _ in found])
        lines = tuple(
            _placed(p.lines[0], box, kind, None if straight is page else (angle, page.shape))
            for (box, kind), p in zip(found, read, strict=True)
        )
        handwritten = [line for line in lines if line.kind == "handwritten"]
        confidence = min((line.confidence for line in handwritten), default=0.0)
        return Prediction("\n".join(line.text for line in handwritten), confidence, lines)
