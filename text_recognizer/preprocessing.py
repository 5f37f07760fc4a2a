"""One path from an image to what a network sees, shared by the data sets (building their caches) and the predictors.

Ink polarity is decided once, by `as_page`, when an image comes in: from then on every image is a *page*, greyscale
dark ink on light paper, as scanned. Each preparation turns a page into its network's input, white ink on black:

    >>> from text_recognizer.preprocessing import as_page, prepare
    >>> from text_recognizer.util import read_image
    >>> page = as_page(read_image("text_recognizer/tests/support/iam_lines/a01-014-00.png"))
    >>> prepare(page, {"method": "line", "height": 64, "max_width": 1280}).shape
    (64, 1280)

An artifact's JSON names its preparation and parameters (`"preprocessing"`), so that a predictor prepares images
exactly as the model's training data were prepared.
"""

import math
from typing import Any

import cv2
import numpy as np

#: The preparations an artifact may name, with the parameters each takes.
METHODS = {
    "character": ("size",),
    "fixed_height_line": ("height", "min_width", "max_width"),
    "line": ("height", "max_width"),
    "found_line": ("height", "max_width", "margin"),
    "paragraph": ("size",),
    "page": ("width", "multiple"),
}


def as_page(image: np.ndarray) -> np.ndarray:
    """A greyscale image as dark ink on light paper: a dark border means light ink on a dark ground, so it is inverted.

    This is the one place where polarity is decided; everything downstream takes pages.
    """
    border = np.concatenate([image[0], image[-1], image[:, 0], image[:, -1]])
    return image if border.mean() > 127 else 255 - image


def normalize_ink(page: np.ndarray) -> np.ndarray:
    """A page to white ink on black: paper (the median) 0, the darkest ink 255."""
    inverted = 255 - page.astype(np.float32) if page.dtype != np.uint8 else None
    if inverted is not None:
        return _stretch(inverted, float(np.median(inverted[::4, ::4])), float(inverted.max()))
    # A uint8 page has 256 levels: its median from their counts, and each level stretched once, through a table
    # (the same float32 arithmetic, so the same bits; a whole page takes a few ms instead of tens).
    sample = page[::4, ::4]  # every 16th pixel tells the paper's level as well, and faster
    counts = np.cumsum(np.bincount(sample.ravel(), minlength=256)[::-1])  # of inverted levels 0..255
    middle = (sample.size - 1) // 2, sample.size // 2
    paper = float(np.mean([np.searchsorted(counts, index, side="right") for index in middle]))
    table = _stretch(255 - np.arange(256, dtype=np.float32), paper, float(255 - page.min()))
    return cv2.LUT(page, table)


def _stretch(inverted: np.ndarray, paper: float, darkest: float) -> np.ndarray:
    ink = max(darkest, paper + 1)
    return np.clip((inverted - paper) * (255 / (ink - paper)), 0, 255).astype(np.uint8)


def fit_to_shape(image: np.ndarray, height: int, max_width: int) -> tuple[np.ndarray, int]:
    """`image` scaled to `height` keeping its aspect (squeezed if wider than `max_width`), padded right with black.

    Also gives the width it had at that height before any squeezing.
    """
    width, natural_width = _fitted_width(image.shape[:2], height, max_width)
    interpolation = cv2.INTER_AREA if image.shape[0] > height else cv2.INTER_LINEAR
    resized = cv2.resize(image, (width, height), interpolation=interpolation)
    return np.pad(resized, ((0, 0), (0, max_width - width))), natural_width


def _fitted_width(shape: tuple[int, int], height: int, max_width: int) -> tuple[int, int]:
    """The width `fit_to_shape` scales an image `shape` high and wide to, and its width at that height unsqueezed."""
    natural_width = max(1, round(shape[1] * height / shape[0]))
    return min(natural_width, max_width), natural_width


def prepare_line(page: np.ndarray, height: int, max_width: int) -> tuple[np.ndarray, int]:
    """A line cut from a real page (IAM's lines): ink normalized, then `fit_to_shape`; also its unsqueezed width."""
    return fit_to_shape(normalize_ink(page), height, max_width)


# Finding the line in a line image as people cut it: loosely, tilted, with strokes of the lines above and below.
LINE_INK = 96  # a normalized pixel brighter than this is ink
# A line's core is the band of rows holding at least this share of the fullest row's ink (its x-height); of several
# bands, the one with the most ink, a band at the image's top or bottom edge (a neighbour, cut) counting this much.
CORE_INK = 0.25
EDGE_BAND_WEIGHT = 0.3
# Strokes through the core are the line's; so are marks (dots, commas, accents) within this many core heights of it.
MARK_REACH = 1.0
# A stroke this share of the image's width long and this many times wider than high is a ruled line, not writing.
RULE_WIDTH, RULE_ASPECT = 0.3, 15
# Tilts tried (degrees), on the line shrunk to this height (a tilt shows in the rows' ink as well there); a line
# tilted less than MIN_LINE_SKEW is left as it is.
LINE_SKEW_ANGLES = np.arange(-5.0, 5.01, 0.5)
SKEW_SEARCH_HEIGHT = 48
MIN_LINE_SKEW = 1.0


def own_ink(ink: np.ndarray) -> np.ndarray:
    """Where a line image (white ink on black: normalized or prepared) holds its own writing, as a boolean mask: the
    strokes through its core and the marks near it, without the neighbouring lines' strokes or ruled lines."""
    mask = (ink > LINE_INK).astype(np.uint8)
    _, components, stats, _ = cv2.connectedComponentsWithStats(mask, connectivity=8)
    labels = np.asarray(components, dtype=np.int32)
    x, y, w, h = (stats[:, i] for i in range(4))
    rule = (w > RULE_WIDTH * mask.shape[1]) & (w > RULE_ASPECT * h)
    rule[0] = True  # the background
    counts = np.bincount(np.nonzero(~rule[labels])[0], minlength=mask.shape[0]).astype(np.float32)
    if not counts.any():
        return np.zeros(mask.shape, bool)
    # Each row's ink with its neighbours' (a line's rows then form one band, unbroken by the gaps between its words).
    profile = np.asarray(cv2.blur(counts[:, None], (1, 9))).ravel()
    core = profile >= CORE_INK * profile.max()
    edges = np.flatnonzero(np.diff(np.concatenate([[0], core.astype(np.int8), [0]])))

    def weight(band: tuple[int, int]) -> float:
        start, stop = band
        return float(profile[start:stop].sum()) * (EDGE_BAND_WEIGHT if start == 0 or stop == len(core) else 1.0)

    top, bottom = max(zip(edges[::2].tolist(), edges[1::2].tolist(), strict=True), key=weight)
    reach = MARK_REACH * (bottom - top)
    through = (y < bottom) & (y + h > top)
    near = (y >= top - reach) & (y + h <= bottom + reach) & (y > 0) & (y + h < mask.shape[0])
    return np.take((through | near) & ~rule, labels)


def line_skew(ink: np.ndarray) -> float:
    """The angle (degrees, counter-clockwise, for `cv2.getRotationMatrix2D`) that straightens a line image (white ink
    on black): its rows' ink is most uneven, the line sharpest, when turned by it."""
    scale = min(1.0, SKEW_SEARCH_HEIGHT / ink.shape[0])
    if ink.shape[1] * scale < 1:  # a sliver under a pixel wide once shrunk: no tilt to tell
        return 0.0
    small = cv2.resize(ink, None, fx=scale, fy=scale, interpolation=cv2.INTER_AREA) if scale < 1 else ink
    ys, xs = np.nonzero(small > LINE_INK)
    if len(ys) < 2:
        return 0.0
    weights = small[ys, xs].astype(np.float64)
    offsets = xs - small.shape[1] / 2

    def sharpness(angle: float) -> float:
        # Within a few degrees a turn is a shear: each ink pixel's row once turned.
        rows = np.round(ys - offsets * np.tan(np.radians(angle))).astype(np.int64)
        return float(np.var(np.bincount(rows - rows.min(), weights)))

    return float(max(LINE_SKEW_ANGLES, key=sharpness))


def find_line(page: np.ndarray, margin: int) -> tuple[np.ndarray, np.ndarray]:
    """The line in a line image as a person cut it, as IAM cuts its lines: straightened, other lines' strokes and
    rules painted over with paper, cut to its ink with `margin` pixels around; and the 2x3 affine matrix taking the
    page's pixels to the cut's."""
    paper = int(np.median(page[::4, ::4]))
    ink = normalize_ink(page)
    matrix: np.ndarray = np.eye(2, 3)
    angle = line_skew(ink)
    if abs(angle) >= MIN_LINE_SKEW:
        height, width = page.shape
        matrix = cv2.getRotationMatrix2D((width / 2, height / 2), angle, 1.0)
        cos, sin = abs(matrix[0, 0]), abs(matrix[0, 1])
        size = (int(height * sin + width * cos), int(height * cos + width * sin))  # grown: no corner is cut
        matrix[:, 2] += (size[0] - width) / 2, (size[1] - height) / 2
        page = cv2.warpAffine(page, matrix, size, flags=cv2.INTER_LINEAR, borderValue=paper)
        ink = cv2.warpAffine(ink, matrix, size, flags=cv2.INTER_LINEAR, borderValue=0)
    mine = own_ink(ink)
    rows, columns = np.nonzero(mine)
    if not len(rows):
        return page, matrix
    cleaned = np.where((ink > LINE_INK) & ~mine, np.uint8(paper), page)
    y0, y1 = int(rows.min()) - margin, int(rows.max()) + 1 + margin
    x0, x1 = int(columns.min()) - margin, int(columns.max()) + 1 + margin
    pad = ((max(0, -y0), max(0, y1 - page.shape[0])), (max(0, -x0), max(0, x1 - page.shape[1])))
    cut = np.pad(cleaned, pad, constant_values=paper)[y0 + pad[0][0] : y1 + pad[0][0], x0 + pad[1][0] : x1 + pad[1][0]]
    matrix = matrix.copy()
    matrix[:, 2] -= (x0, y0)
    return np.ascontiguousarray(cut), matrix


def found_line_spec(spec: dict[str, Any]) -> dict[str, Any]:
    """The "line" spec that a line `find_line` cut for a "found_line" `spec` is then prepared with."""
    return {"method": "line", "height": spec["height"], "max_width": spec["max_width"]}


def prepare_line_input(page: np.ndarray, spec: dict[str, Any]) -> tuple[np.ndarray, np.ndarray]:
    """A line as `prepare` prepares it for a line method, and the 2x3 affine matrix taking the page's pixels to the
    prepared image's (the words' boxes go back through its inverse)."""
    check_spec(spec)
    matrix = np.eye(2, 3)
    if spec["method"] == "found_line":
        page, matrix = find_line(page, spec["margin"])
        spec = found_line_spec(spec)
    horizontal, vertical = line_scale(page.shape, spec)
    return prepare(page, spec), np.diag([horizontal, vertical]) @ np.vstack([matrix, [0, 0, 1]])[:2]


def prepare_fixed_height_line(page: np.ndarray, height: int, min_width: int, max_width: int) -> np.ndarray:
    """A line of clean ink (EMNIST Lines): inverted, scaled to `height`, padded to `min_width`, cut at `max_width`."""
    image = 255 - page
    if image.shape[0] != height:
        scale = height / image.shape[0]
        columns, width = _fixed_height_width(image.shape[:2], height, max_width)
        # Cut first: a sliver a few pixels high would scale up to a line long enough to exhaust memory.
        image = image[:, :columns]
        interpolation = cv2.INTER_AREA if scale < 1 else cv2.INTER_LINEAR
        image = cv2.resize(image, (width, height), interpolation=interpolation)
    if image.shape[1] < min_width:
        image = np.pad(image, ((0, 0), (0, min_width - image.shape[1])))
    return image[:, :max_width]


def _fixed_height_width(shape: tuple[int, int], height: int, max_width: int) -> tuple[int, int]:
    """The columns of an image `shape` high and wide that `prepare_fixed_height_line` scales, and their width then."""
    scale = height / shape[0]
    columns = min(shape[1], math.ceil(max_width / scale))
    return columns, max(1, round(columns * scale))


def line_scale(shape: tuple[int, int], spec: dict[str, Any]) -> tuple[float, float]:
    """How `prepare` scales a line `shape` high and wide for an artifact whose `"preprocessing"` is `spec` (a line
    method): the (horizontal, vertical) factors from the line's pixels to the prepared image's. The line's point
    (x, y) lies at (x * horizontal, y * vertical) there; the prepared image's columns past the line are padding.

    >>> [round(factor, 3) for factor in line_scale((66, 1012), {"method": "line", "height": 64, "max_width": 1280})]
    [0.969, 0.97]
    >>> [round(factor, 3) for factor in line_scale((66, 1500), {"method": "line", "height": 64, "max_width": 1280})]
    [0.853, 0.97]
    """
    check_spec(spec)
    height, width = shape
    if spec["method"] == "line":
        fitted, _ = _fitted_width(shape, spec["height"], spec["max_width"])
        return fitted / width, spec["height"] / height
    if spec["method"] == "fixed_height_line":
        if height == spec["height"]:
            return 1.0, 1.0
        columns, fitted = _fixed_height_width(shape, spec["height"], spec["max_width"])
        return fitted / columns, spec["height"] / height
    raise ValueError(f"Preprocessing {spec['method']!r} prepares no line")


def frame_character(page: np.ndarray, size: int) -> np.ndarray:
    """A character as EMNIST frames them: inverted, cropped to the ink, centred in a square margin, `size` square.

    An image already `size` square is taken as framed and only inverted.
    """
    image = 255 - page
    if image.shape == (size, size):
        return image
    rows, cols = np.nonzero(image > image.max() / 4)
    if len(rows):
        image = image[rows.min() : rows.max() + 1, cols.min() : cols.max() + 1]
    side = int(max(image.shape) * 1.15) + 2
    top, left = (side - image.shape[0]) // 2, (side - image.shape[1]) // 2
    bottom, right = side - image.shape[0] - top, side - image.shape[1] - left
    image = cv2.copyMakeBorder(image, top, bottom, left, right, cv2.BORDER_CONSTANT, value=0)
    return cv2.resize(image, (size, size), interpolation=cv2.INTER_AREA)


def prepare_paragraph(page: np.ndarray, size: int) -> tuple[np.ndarray, float]:
    """A paragraph to network input (size, size) white on black, and the scale from page to input pixels.

    The page is padded with black at the bottom and right to a square and shrunk to `size`, so that an input pixel is
    a page pixel times `scale` (from the top-left corner, the same in both directions).
    """
    ink = normalize_ink(page)
    side = max(ink.shape)
    square = np.pad(ink, ((0, side - ink.shape[0]), (0, side - ink.shape[1])))
    interpolation = cv2.INTER_AREA if side > size else cv2.INTER_LINEAR
    return cv2.resize(square, (size, size), interpolation=interpolation), size / side


def prepare_page(page: np.ndarray, width: int, multiple: int) -> tuple[np.ndarray, float]:
    """A whole page to network input `width` wide white on black, and the scale from page to input pixels.

    The page keeps its aspect (its height follows) and is padded with black at the bottom and right to multiples of
    `multiple` (a fully convolutional detector's stride), so that an input pixel is a page pixel times `scale`.
    """
    ink = normalize_ink(page)
    scale = width / ink.shape[1]
    height = max(1, round(ink.shape[0] * scale))
    interpolation = cv2.INTER_AREA if scale < 1 else cv2.INTER_LINEAR
    image = cv2.resize(ink, (width, height), interpolation=interpolation)
    padded = (-height % multiple, -width % multiple)
    return np.pad(image, ((0, padded[0]), (0, padded[1]))), scale


def check_spec(spec: dict[str, Any]) -> None:
    """Raise ValueError unless `spec` names a known method with exactly its parameters."""
    method = spec.get("method")
    if method not in METHODS:
        raise ValueError(f"Unknown preprocessing method {method!r}; choose one of {sorted(METHODS)}")
    if set(spec) - {"method"} != set(METHODS[method]):
        raise ValueError(
            f"Preprocessing {method!r} takes {list(METHODS[method])}, got {sorted(set(spec) - {'method'})}"
        )


def prepare(page: np.ndarray, spec: dict[str, Any]) -> np.ndarray:
    """A page as the network of an artifact whose `"preprocessing"` is `spec` takes it."""
    check_spec(spec)
    params = {key: value for key, value in spec.items() if key != "method"}
    if spec["method"] == "character":
        return frame_character(page, **params)
    if spec["method"] == "fixed_height_line":
        return prepare_fixed_height_line(page, **params)
    if spec["method"] == "line":
        return prepare_line(page, **params)[0]
    if spec["method"] == "found_line":
        return prepare_line(find_line(page, params["margin"])[0], params["height"], params["max_width"])[0]
    if spec["method"] == "page":
        return prepare_page(page, **params)[0]
    return prepare_paragraph(page, **params)[0]
