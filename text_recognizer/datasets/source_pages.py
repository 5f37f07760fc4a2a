"""From an imported source to what data sets store: page images on disk (fetched where they are URLs), the source's
content hash, a split per page, and each line cut from its page as IAM's lines are cut.

    >>> from text_recognizer.datasets.importers import import_source
    >>> from text_recognizer.datasets.source_pages import fetch_images, content_sha256, line_crops
    >>> source = import_source("my_transkribus_export")
    >>> images = fetch_images(source, Path("data/raw/imported_pages"))   # page id -> local image file
    >>> content_sha256(source, images)        # changes when any annotation or image changes, whatever the file names
    '3f1c...'
    >>> crops = list(line_crops(source.pages[0], read_image(images[source.pages[0].id]), margin=8))
"""

import hashlib
from collections.abc import Callable, Iterator
from pathlib import Path

import cv2
import numpy as np

from text_recognizer.datasets.dataset import DataError
from text_recognizer.datasets.fsdl_handwriting_dataset import fetch_with_retries
from text_recognizer.datasets.iam_lines_dataset import crop_line
from text_recognizer.datasets.importers import ImportedLine, ImportedPage, ImportedSource, ImportFormatError
from text_recognizer.preprocessing import as_page
from text_recognizer.util import ImageError, read_image, sha256_of

SPLITS = ("train", "validation", "test")


def fetch_images(
    source: ImportedSource,
    folder: Path,
    known: Callable[[ImportedPage], Path | None] = lambda page: None,
    retries: int = 3,
    timeout: float = 30.0,
) -> dict[str, Path]:
    """Page id -> the local file of its image; images at URLs are downloaded into `folder` first (once: a file is
    named by its URL's hash, written whole or not at all) unless `known(page)` names a copy already on disk."""
    images = {}
    for page in source.pages:
        if not page.is_remote:
            images[page.id] = Path(page.image)
            continue
        copy = known(page)
        if copy is not None and copy.is_file():
            images[page.id] = copy
            continue
        suffix = Path(page.image.split("?", 1)[0]).suffix.lower()
        path = folder / (hashlib.sha256(page.image.encode()).hexdigest()[:24] + (suffix if len(suffix) <= 5 else ""))
        if not path.exists():
            try:
                fetch_with_retries(page.image, path, retries, timeout, backoff=1.0)
            except DataError as e:
                raise DataError(f"Page {page.id!r} of {source.location}: {e}") from e
        images[page.id] = path
    return images


def content_sha256(source: ImportedSource, images: dict[str, Path]) -> str:
    """A hash of what the source says: every page's id, image bytes, lines (outlines and texts) and given split.

    File names and folder locations do not count, so a moved export keeps its caches; any edit does."""
    digest = hashlib.sha256(f"{source.format}\0".encode())
    for page in sorted(source.pages, key=lambda page: page.id):
        digest.update(f"{page.id}\0{sha256_of(images[page.id])}\0{page.relative}\0{page.split}\0".encode())
        for line in page.lines:
            digest.update(f"{line.text}\0{line.polygon}\0".encode())
    return digest.hexdigest()


def assign_splits(
    pages: list[ImportedPage],
    given: dict[str, list[str]] | None,
    validation_fraction: float,
    test_fraction: float,
    seed: int,
) -> dict[str, str]:
    """Page id -> split: as `given` (split -> page ids; pages it leaves out train), else as each page's own, else by
    page, shuffled with `seed`. With three pages or more, a non-zero fraction gets at least one page, and training
    always keeps one."""
    ids = sorted(page.id for page in pages)
    if given is not None:
        unknown = sorted({split for split in given} - set(SPLITS))
        if unknown:
            raise ValueError(f"splits: unknown split(s) {unknown}; choose from {list(SPLITS)}")
        named = {page_id: split for split, page_ids in given.items() for page_id in page_ids}
        missing = sorted(set(named) - set(ids))
        if missing:
            raise ValueError(f"splits name pages the source does not have: {missing[:5]}")
        return {page_id: named.get(page_id, "train") for page_id in ids}
    own = {page.id: page.split for page in pages if page.split in SPLITS}
    if len(own) == len(ids):
        return {page_id: str(split) for page_id, split in own.items()}
    order = [ids[i] for i in np.random.default_rng(seed).permutation(len(ids))]
    counts = [_share(len(ids), fraction) for fraction in (test_fraction, validation_fraction)]
    while counts[0] + counts[1] >= len(ids) and any(counts):  # leave training a page
        counts[int(counts[1] >= counts[0])] -= 1
    num_test, num_val = counts
    splits = {page_id: "test" for page_id in order[:num_test]}
    splits.update({page_id: "validation" for page_id in order[num_test : num_test + num_val]})
    return {page_id: splits.get(page_id, "train") for page_id in ids}


def _share(total: int, fraction: float) -> int:
    return 0 if fraction <= 0 else max(round(total * fraction), 1 if total >= 3 else 0)


def read_page(page: ImportedPage, image: Path) -> np.ndarray:
    """The page's image, greyscale uint8; an error naming the page and file where it cannot be read."""
    try:
        return read_image(image)
    except ImageError as e:
        raise ImportFormatError(image, f"the image of page {page.id!r} cannot be read: {e}") from None


def line_crops(page: ImportedPage, image: np.ndarray, margin: int) -> Iterator[tuple[ImportedLine, np.ndarray]]:
    """Each line and its crop as a page (dark ink on light paper): its box grown by `margin` pixels (IAM's
    `crop_line`), and where the outline is no rectangle, what lies beyond the outline grown by `margin` painted paper,
    so that a neighbouring line's ascenders stay out."""
    height, width = image.shape[:2]
    for line in page.lines:
        box = line.pixel_box(width, height, page.relative)
        crop: np.ndarray = crop_line(image, box, margin)
        polygon = np.array(line.pixel_polygon(width, height, page.relative), np.int32)
        if len(polygon) >= 3 and not _is_rectangle(polygon):
            left, top = max(0, box[0] - margin), max(0, box[1] - margin)
            mask: np.ndarray = np.zeros(crop.shape[:2], np.uint8)
            cv2.fillPoly(mask, [polygon - (left, top)], 255)
            if margin:
                mask = cv2.dilate(mask, np.ones((2 * margin + 1, 2 * margin + 1), np.uint8))
            paper = int(np.median(crop[mask > 0])) if (mask > 0).any() else 255
            crop = np.where(mask > 0, crop, np.uint8(paper)).astype(np.uint8)
        yield line, as_page(crop)


def _is_rectangle(polygon: np.ndarray) -> bool:
    """Whether every point lies on the bounding box's border (an axis-aligned rectangle, however many points)."""
    xs, ys = polygon[:, 0], polygon[:, 1]
    on_x, on_y = np.isin(xs, (xs.min(), xs.max())), np.isin(ys, (ys.min(), ys.max()))
    return bool((on_x | on_y).all()) and len(np.unique(polygon, axis=0)) <= 4
