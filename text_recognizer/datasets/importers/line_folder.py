"""A folder of line images, each `<name>.png` (or .jpg, .tif) with its text in `<name>.gt.txt` beside it (the
tesstrain and kraken convention); every image is a page that is one line.

    >>> from text_recognizer.datasets.importers.line_folder import parse_line_folder
    >>> pages, skipped = parse_line_folder(Path("my_lines"))   # skipped: images without a .gt.txt
    >>> pages[0].id, pages[0].lines[0].text
    ('line_0001', 'A MOVE to stop Mr. Gaitskell from')

Sub-folders are read too (page ids are then relative paths). A `.gt.txt` must be UTF-8 and hold one line of text.
"""

from pathlib import Path

from text_recognizer.datasets.importers.base import ImportedLine, ImportedPage, ImportFormatError

GT_SUFFIX = ".gt.txt"
IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg", ".tif", ".tiff", ".bin.png", ".nrm.png")
# The whole image, as fractions of its size: the line is cropped (with its margin clipped) to the image itself.
WHOLE_IMAGE = ((0.0, 0.0), (1.0, 0.0), (1.0, 1.0), (0.0, 1.0))


def has_line_texts(folder: Path) -> bool:
    return next(folder.rglob(f"*{GT_SUFFIX}"), None) is not None


def parse_line_folder(folder: Path) -> tuple[list[ImportedPage], int, list[Path]]:
    """The folder's lines as one-line pages (by path), how many images had no text, and the text files read."""
    pages, texts = [], sorted(folder.rglob(f"*{GT_SUFFIX}"))
    used: set[Path] = set()
    for text_path in texts:
        stem = text_path.name.removesuffix(GT_SUFFIX)
        images = [text_path.with_name(stem + suffix) for suffix in IMAGE_SUFFIXES]
        image = next((path for path in images if path.is_file()), None)
        if image is None:
            raise ImportFormatError(text_path, f"no line image beside it ({stem}.png, .jpg or .tif)")
        used.add(image)
        pages.append(ImportedPage(
            id=str(text_path.relative_to(folder)).removesuffix(GT_SUFFIX),
            image=str(image),
            lines=(ImportedLine(read_line_text(text_path), WHOLE_IMAGE),),
            relative=True,
        ))  # fmt: skip
    all_images = {path for suffix in (".png", ".jpg", ".jpeg", ".tif", ".tiff") for path in folder.rglob(f"*{suffix}")}
    return pages, len(all_images - used), texts


def read_line_text(path: Path) -> str:
    """The one line of text of a `.gt.txt` file, stripped."""
    try:
        content = path.read_bytes().decode("utf-8-sig")
    except UnicodeDecodeError as e:
        raise ImportFormatError(path, f"not UTF-8 text (byte {e.start}: {e.reason})") from None
    rows = [row for row in content.strip().splitlines() if row.strip()]
    if len(rows) > 1:
        raise ImportFormatError(path, f"holds {len(rows)} lines of text; a line image's text is one line")
    return rows[0].strip() if rows else ""
