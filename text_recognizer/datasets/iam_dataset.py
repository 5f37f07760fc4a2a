"""The IAM Handwriting Database: form pages, and per handwritten line its writer, text, page box and split.

    TEXT_RECOGNIZER_DATA_MIRROR=/work/shared/data/raw python -m text_recognizer.datasets.iam_dataset   # summary

Everything is read straight from `iamdb.zip` (no extraction). Lines come from the official `xml/` files when the
archive has them, else from `ascii/lines.txt`, whose `|`-separated tokens are joined back into the text as written
(`service|,|free` is `service, free`). Writers come from `ascii/forms.txt`; the split from `task/*.txt` when present,
else from a hash of the writer id, so that no writer is in two splits. Lines of forms without an image are skipped.
"""

import hashlib
import html
import re
import zipfile
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from xml.etree import ElementTree

import cv2
import numpy as np

from text_recognizer.datasets.dataset import DataError, Dataset

Box = tuple[int, int, int, int]  # x, y, width, height in page pixels

ROOT = "iamdb/"
# validationset2 is not in every copy of IAM; where it is, it validates too.
TASK_SPLITS = {"trainset": "train", "validationset1": "validation", "validationset2": "validation", "testset": "test"}
# Fractions of writers in the hash split when the archive has no task/ lists (close to IAM's own proportions).
HASH_SPLIT_FRACTIONS = (("test", 0.15), ("validation", 0.10))
QUOTES = ('"', "'")
# Split-off contractions (it|'s, you|'re): glued to the word before. Elisions such as 'em or '61 keep their space.
CONTRACTIONS = {"'s", "'ll", "'d", "'re", "'m", "'ve", "'t"}
# How much the quotes left open by earlier lines count against the marks around a quote: more than one weak hint
# (IAM excerpts may start inside a quotation, so that state is sometimes wrong), less than a strong one.
QUOTE_STATE_WEIGHT = 1.5
_CLOSING_PUNCTUATION = re.compile(r"[,.;:?!]+|\)")
_SENTENCE_END = re.compile(r"[.?!]+")


@dataclass(frozen=True)
class IamLine:
    """One handwritten line: where it is on which form, who wrote it, what it says, and its split (None: no task)."""

    form_id: str
    line_id: str
    writer: str
    text: str
    box: Box
    split: str | None


def _glues_left(token: str) -> bool:
    return bool(_CLOSING_PUNCTUATION.fullmatch(token)) or token.lower() in CONTRACTIONS


def _quote_evidence(tokens: list[str], i: int) -> int:
    """Positive where the quote at `i` looks like an opening one, negative where it looks like a closing one."""
    before = tokens[i - 1] if i > 0 else None
    after = tokens[i + 1] if i + 1 < len(tokens) else None
    score = 0
    if after is None or _glues_left(after):
        score -= 2  # nothing opens a quote to end a line or to put a comma or full stop right after it
    elif after in QUOTES or after == "-":
        score -= 1
    if before is None or before in (":", "("):
        score += 2
    elif before in QUOTES or before == "-":
        score += 1
    elif _SENTENCE_END.fullmatch(before):
        score -= 1  # more often `end ." He said` than `end . "Quote`
    return score


def rebuild_text(tokens: list[str], open_quotes: frozenset[str] = frozenset()) -> tuple[str, frozenset[str]]:
    """The text as written from `lines.txt` tokens, and which quote kinds are still open at its end.

    Punctuation and contractions glue to the word before, `(` to the word after. Quote marks alternate between
    opening and closing; which one comes first is whichever fits the words around them best, weighed against whether
    the form's previous lines left that kind of quote open (`open_quotes`).
    """
    opening: dict[int, bool] = {}
    still_open = set(open_quotes)
    for quote in QUOTES:
        positions = [i for i, token in enumerate(tokens) if token == quote]
        if not positions:
            continue
        evidence = sum((-1) ** k * _quote_evidence(tokens, i) for k, i in enumerate(positions))
        first_opens = evidence + (-QUOTE_STATE_WEIGHT if quote in open_quotes else QUOTE_STATE_WEIGHT) > 0
        for k, i in enumerate(positions):
            opening[i] = first_opens == (k % 2 == 0)
        still_open.discard(quote)
        if opening[positions[-1]]:
            still_open.add(quote)
    text = ""
    for i, token in enumerate(tokens):
        glued = i == 0 or _glues_left(token) or opening.get(i) is False
        glued = glued or tokens[i - 1] == "(" or opening.get(i - 1) is True
        text += token if glued else " " + token
    return text, frozenset(still_open)


def parse_lines_txt(content: str) -> dict[str, tuple[str, Box]]:
    """Line id to (text, box) from `ascii/lines.txt`; `#` starts a comment, `err` lines are kept."""
    lines: dict[str, tuple[str, Box]] = {}
    open_quotes: dict[str, frozenset[str]] = {}  # per form: lines follow each other in the file
    for row in content.splitlines():
        if not row.strip() or row.startswith("#"):
            continue
        # A token may hold a space ("M Ps"): the transcription is everything after the eighth field.
        line_id, _status, _threshold, _components, x, y, w, h, transcription = row.split(" ", 8)
        form_id = line_id.rsplit("-", 1)[0]
        text, open_quotes[form_id] = rebuild_text(transcription.split("|"), open_quotes.get(form_id, frozenset()))
        lines[line_id] = (text, (int(x), int(y), int(w), int(h)))
    return lines


def parse_form_xml(content: bytes | str) -> dict[str, tuple[str, Box]]:
    """Line id to (text, box) from one form's XML: the box bounds the components of the line's words."""
    lines: dict[str, tuple[str, Box]] = {}
    for line in ElementTree.fromstring(content).iter("line"):
        components = [[int(c.get(key, 0)) for key in ("x", "y", "width", "height")] for c in line.iter("cmp")]
        if not components:
            continue
        boxes = np.array(components)
        left, top = boxes[:, :2].min(axis=0)
        right, bottom = (boxes[:, :2] + boxes[:, 2:]).max(axis=0)
        # Quotes are escaped twice in IAM's XML (&amp;quot;): the parser undoes one level, html.unescape the other.
        text = html.unescape(line.get("text", ""))
        lines[line.get("id", "")] = (text, (int(left), int(top), int(right - left), int(bottom - top)))
    return lines


def parse_forms_txt(content: str) -> dict[str, str]:
    """Form id to writer id from `ascii/forms.txt`."""
    return {row.split()[0]: row.split()[1] for row in content.splitlines() if row.strip() and not row.startswith("#")}


def writer_split(writer: str) -> str:
    """A split that depends on the writer id only, the same on every machine and run."""
    fraction = int(hashlib.sha256(writer.encode()).hexdigest()[:8], 16) / 16**8
    for split, share in HASH_SPLIT_FRACTIONS:
        if fraction < share:
            return split
        fraction -= share
    return "train"


def build_lines(
    annotations: dict[str, tuple[str, Box]],
    writers: dict[str, str],
    form_ids: set[str],
    task_lists: dict[str, list[str]] | None,
) -> tuple[list[IamLine], int]:
    """The lines of the forms in `form_ids`, with writer and split, and how many lines were skipped for lack of one.

    `task_lists` maps a task file's stem (`trainset`, ...) to its line ids; None splits by writer instead.
    """
    split_of = {
        line_id: TASK_SPLITS[stem] for stem, ids in (task_lists or {}).items() if stem in TASK_SPLITS for line_id in ids
    }
    lines, skipped = [], 0
    for line_id, (text, box) in sorted(annotations.items()):
        form_id = line_id.rsplit("-", 1)[0]
        if form_id not in form_ids:
            skipped += 1
            continue
        writer = writers.get(form_id, "")
        split = split_of.get(line_id) if task_lists is not None else writer_split(writer)
        lines.append(IamLine(form_id, line_id, writer, text, box, split))
    return lines, skipped


class IamDataset(Dataset):
    """IAM lines with their form images; `load_or_generate_data()` reads the annotations (a second or so)."""

    raw_name = "iam"

    def __init__(self) -> None:
        self.lines: list[IamLine] = []
        self.num_skipped = 0
        self.annotation_source = ""
        self.form_members: dict[str, str] = {}
        self.zip_path: Path | None = None

    def load_or_generate_data(self) -> None:
        self.zip_path = self.raw_file()
        with zipfile.ZipFile(self.zip_path) as archive:
            names = archive.namelist()
            # One image a form; where a form has both, the original scan (.jpg) wins over the binarized .png.
            for name in sorted((n for n in names if n.startswith(ROOT + "forms/")), reverse=True):
                stem, _, extension = Path(name).name.rpartition(".")
                if extension.lower() in ("jpg", "png"):
                    self.form_members[stem] = name
            xml_names = [n for n in names if n.startswith(ROOT + "xml/") and n.endswith(".xml")]
            annotations: dict[str, tuple[str, Box]] = {}
            if xml_names:
                for name in xml_names:
                    annotations.update(parse_form_xml(archive.read(name)))
                self.annotation_source = "xml"
            else:
                annotations = parse_lines_txt(archive.read(ROOT + "ascii/lines.txt").decode("utf-8"))
                self.annotation_source = "ascii/lines.txt"
            writers = parse_forms_txt(archive.read(ROOT + "ascii/forms.txt").decode("utf-8"))
            task_names = [n for n in names if n.startswith(ROOT + "task/") and Path(n).stem in TASK_SPLITS]
            task_lists = {Path(n).stem: archive.read(n).decode().split() for n in task_names} or None
        if not annotations:
            raise DataError(f"{self.zip_path} holds no line annotations")
        self.lines, self.num_skipped = build_lines(annotations, writers, set(self.form_members), task_lists)
        if self.num_skipped:
            print(f"IAM: skipped {self.num_skipped} annotated lines whose form image is not in {self.zip_path.name}")

    def form_images(self, form_ids: Iterable[str]) -> Iterator[tuple[str, np.ndarray]]:
        """(form id, page) for each form, the page greyscale uint8, dark ink on light paper; one archive opening."""
        if self.zip_path is None:
            raise DataError("Call load_or_generate_data() first")
        with zipfile.ZipFile(self.zip_path) as archive:
            for form_id in form_ids:
                data = np.frombuffer(archive.read(self.form_members[form_id]), np.uint8)
                image = cv2.imdecode(data, cv2.IMREAD_GRAYSCALE)
                if image is None:
                    raise DataError(f"Cannot decode {self.form_members[form_id]} in {self.zip_path}")
                yield form_id, image

    def __repr__(self) -> str:
        counts = {split: sum(line.split == split for line in self.lines) for split in ("train", "validation", "test")}
        return (
            f"IAM: {len(self.form_members)} form images, {len(self.lines)} lines from {self.annotation_source} "
            f"({', '.join(f'{k} {v}' for k, v in counts.items())}), {self.num_skipped} skipped for lack of an image"
        )


if __name__ == "__main__":
    dataset = IamDataset()
    dataset.load_or_generate_data()
    print(dataset)
    for line in dataset.lines[:5]:
        print(line)
