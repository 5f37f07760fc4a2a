"""Reads a paragraph of handwriting: the line detector finds the lines, the line predictor reads each one.

    >>> from text_recognizer.predictors import ParagraphTextRecognizer
    >>> prediction = ParagraphTextRecognizer().predict("text_recognizer/tests/support/iam_paragraphs/a01-014.png")
    >>> print(prediction.text)              # the lines, top to bottom, joined with newlines
    >>> prediction.lines[0].box, prediction.lines[0].confidence

The detector labels each pixel of the paragraph, shrunk to its input size, as background, odd line or even line. Each
connected region of one line class becomes a line box, scaled back to the full-resolution page, from which the line
is cut and read.
"""

from collections.abc import Sequence

import cv2
import numpy as np

from text_recognizer.artifacts import load_artifact
from text_recognizer.predictors.base import Box, Line, Prediction, Predictor
from text_recognizer.predictors.line import LinePredictor
from text_recognizer.preprocessing import prepare_paragraph

DETECTOR_NAME = "LineDetectorModel_IamParagraphsDataset_fcn"
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
            lines = tuple(Line(box, p.text, p.confidence) for box, p in zip(boxes, read, strict=True))
            confidence = min((line.confidence for line in lines), default=0.0)
            predictions.append(Prediction("\n".join(line.text for line in lines), confidence, lines))
        return predictions
