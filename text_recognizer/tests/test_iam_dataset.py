"""IAM: the annotation parsing on real examples, the data sets on a tiny archive made here, then on the mirror."""

import hashlib
import io
import os
import zipfile
from collections import Counter
from pathlib import Path

import cv2
import numpy as np
import pytest

from text_recognizer.datasets import IamDataset, IamLinesDataset
from text_recognizer.datasets import dataset as dataset_module
from text_recognizer.datasets.iam_dataset import (
    IamLine,
    build_lines,
    parse_form_xml,
    parse_forms_txt,
    parse_lines_txt,
    rebuild_text,
    writer_split,
)
from text_recognizer.datasets.iam_lines_dataset import to_alphabet
from text_recognizer.datasets.line_augmentation import augment_line_batch
from text_recognizer.preprocessing import fit_to_shape, normalize_ink


@pytest.mark.parametrize(
    ("tokens", "text"),
    [
        ("A|MOVE|to|stop|Mr.|Gaitskell|from", "A MOVE to stop Mr. Gaitskell from"),
        ("Griffiths|,|M P|for|Manchester|Exchange|.", "Griffiths, M P for Manchester Exchange."),
        ("Nobody|'s|going|to|shove", "Nobody's going to shove"),
        ("A|new|briefcase|!|So|THAT|'S", "A new briefcase! So THAT'S"),
        ("give|'em|hell|,|'61", "give 'em hell, '61"),
        ("(|280,000|members|)|and|Mr.|Harry|Nkumbula's", "(280,000 members) and Mr. Harry Nkumbula's"),
        ("settlers'|parties|-|the|United|Federal|Party", "settlers' parties - the United Federal Party"),
        ("sentiment|would|#|still|favour|the|abolition", "sentiment would # still favour the abolition"),
        ("the|political|...", "the political..."),
        ('Mr.|Brown|retorted|:|"|The|jackals|bay', 'Mr. Brown retorted: "The jackals bay'),
        ('with|"|growing|anger|"|the|gross', 'with "growing anger" the gross'),
        ("a|'|double|'|life|without", "a 'double' life without"),
        ("anything|.|'|The|Pearl|'|,|he|wrote|,|'|is|arrived", "anything. 'The Pearl', he wrote, 'is arrived"),
        ("own|language|.|'|Do|you|know|who|I|am|?|'|'|No|,", "own language. 'Do you know who I am?' 'No,"),
        ('"|No|,|"|I|said|,|"|outside|your|office|.|"', '"No," I said, "outside your office."'),
    ],
)
def test_rebuild_text(tokens: str, text: str) -> None:
    assert rebuild_text(tokens.split("|"))[0] == text


def test_quote_left_open_by_the_previous_line_closes() -> None:
    first, still_open = rebuild_text('"|Deadlock|,|said|Max'.split("|"))
    assert (first, still_open) == ('"Deadlock, said Max', frozenset({'"'}))
    tokens = 'it|is|,|"|Passon|commented'.split("|")
    assert rebuild_text(tokens, still_open) == ('it is," Passon commented', frozenset())
    assert rebuild_text(tokens)[0] == 'it is, "Passon commented'


LINES_TXT = """#--- lines.txt ---#
# format: a01-000u-00 ok 154 19 408 746 1663 91 A|MOVE|to|stop|Mr.|Gaitskell|from
a01-000u-00 ok 154 19 408 746 1661 89 A|MOVE|to|"|stop|Mr.
a01-000u-03 err 156 23 430 1290 1883 70 M Ps|tomorrow|"|.|Mr.
b01-000-00 ok 154 19 10 20 30 40 "|Hello
"""


def test_parse_lines_txt() -> None:
    lines = parse_lines_txt(LINES_TXT)
    assert lines == {
        "a01-000u-00": ('A MOVE to "stop Mr.', (408, 746, 1661, 89)),
        "a01-000u-03": ('M Ps tomorrow". Mr.', (430, 1290, 1883, 70)),  # err lines are kept; the quote was open
        "b01-000-00": ('"Hello', (10, 20, 30, 40)),  # another form: no quote carried over
    }


FORM_XML = b"""<?xml version="1.0" encoding="ISO-8859-1"?>
<form id="a01-000u" writer-id="000" width="2479" height="3542">
<machine-printed-part><machine-print-line text="A MOVE to stop"/></machine-printed-part>
<handwritten-part>
<line id="a01-000u-00" text="&amp;quot;A MOVE&amp;quot; to &quot;stop&quot;" segmentation="ok" threshold="154">
<word id="a01-000u-00-00" text="&amp;quot;"><cmp x="408" y="768" width="27" height="51"/></word>
<word id="a01-000u-00-01" text="A">
<cmp x="440" y="760" width="41" height="61"/><cmp x="490" y="750" width="10" height="80"/>
</word>
</line>
<line id="a01-000u-01" text="no components"/>
</handwritten-part>
</form>
"""


def test_parse_form_xml() -> None:
    assert parse_form_xml(FORM_XML) == {"a01-000u-00": ('"A MOVE" to "stop"', (408, 750, 92, 80))}


def test_parse_forms_txt() -> None:
    assert parse_forms_txt("# comment\na01-000u 000 2 prt 7 5 52 36\na01-000x 001 2 all 6 6 52 52\n") == {
        "a01-000u": "000",
        "a01-000x": "001",
    }


ANNOTATIONS = {
    "a01-000-00": ("one", (0, 0, 1, 1)),
    "a01-000-01": ("two", (0, 0, 1, 1)),
    "b01-000-00": ("three", (0, 0, 1, 1)),
    "c01-000-00": ("no image", (0, 0, 1, 1)),
}
WRITERS = {"a01-000": "000", "b01-000": "001", "c01-000": "002"}


def test_lines_of_missing_forms_are_skipped_and_counted() -> None:
    lines, skipped = build_lines(ANNOTATIONS, WRITERS, {"a01-000", "b01-000"}, {"trainset": ["a01-000-00"]})
    assert skipped == 1
    assert [line.line_id for line in lines] == ["a01-000-00", "a01-000-01", "b01-000-00"]
    assert lines[0] == IamLine("a01-000", "a01-000-00", "000", "one", (0, 0, 1, 1), "train")
    assert [line.split for line in lines[1:]] == [None, None]  # in no task list


def test_task_lists_give_the_split() -> None:
    tasks = {"trainset": ["a01-000-00"], "validationset1": ["a01-000-01"], "testset": ["b01-000-00"]}
    lines, _ = build_lines(ANNOTATIONS, WRITERS, {"a01-000", "b01-000"}, tasks)
    assert [line.split for line in lines] == ["train", "validation", "test"]


def test_without_task_lists_writers_split_by_hash() -> None:
    writers = {f"form{i}": f"{i:03d}" for i in range(600)}
    annotations = {f"form{i}-{j:02d}": ("text", (0, 0, 1, 1)) for i in range(600) for j in range(3)}
    lines, _ = build_lines(annotations, writers, set(writers), None)
    splits_of_writer: dict[str, set[str | None]] = {}
    for line in lines:
        splits_of_writer.setdefault(line.writer, set()).add(line.split)
    assert all(len(splits) == 1 for splits in splits_of_writer.values())  # writer-independent
    shares = Counter(writer_split(writer) for writer in writers.values())
    assert 0.7 < shares["train"] / 600 < 0.8 and 0.06 < shares["validation"] / 600 < 0.14
    assert writer_split("000") == writer_split("000")


def test_to_alphabet_replaces_what_the_mapping_lacks() -> None:
    alphabet = set(IamLinesDataset().mapping) - {"_"}
    assert to_alphabet("na\u00efve \u201cquote\u201d [x] 50%", alphabet) == (
        'naive "quote" (x) 50',
        ["\u00ef", "\u201c", "\u201d", "[", "]", "%"],
    )


def test_normalize_ink_and_fit_to_shape() -> None:
    crop = np.full((100, 500), 230, np.uint8)
    crop[40:60, 10:490] = 40
    line = normalize_ink(crop)
    assert line[0, 0] == 0 and line[50, 250] == 255
    image, width = fit_to_shape(line, 64, 1280)
    assert image.shape == (64, 1280) and width == 320 and not image[:, 320:].any()
    squeezed, width = fit_to_shape(np.full((100, 3000), 255, np.uint8), 64, 1280)
    assert width == 1920 and squeezed.min() == 255


def test_augmentation_keeps_shapes_labels_and_both_ends() -> None:
    x = np.zeros((16, 64, 1280), np.uint8)
    x[:, 20:44, :40] = x[:, 20:44, -40:] = 255  # writing over the whole width, as in a squeezed line
    y = np.arange(16 * 5).reshape(16, 5)
    augmented, same_y = augment_line_batch(x, y, np.random.default_rng(0))
    assert augmented.shape == x.shape and augmented.dtype == np.uint8 and same_y is y
    for image in augmented:  # both ends still in the image: a bright block at the left, a wide gap, another block
        columns = np.flatnonzero(image.max(axis=0) > 100)
        assert columns[0] < 100 and np.diff(columns).max() > 500
    again, _ = augment_line_batch(x, y, np.random.default_rng(0))
    assert np.array_equal(augmented, again)


def test_constructors_are_cheap(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv(dataset_module.MIRROR_ENV_VAR, str(tmp_path / "nothing"))
    data = IamLinesDataset(image_height=48, max_width=1024)
    assert (data.input_shape, data.num_classes, data.output_length, data.mapping[data.padding_label]) == (
        (48, 1024),
        80,
        100,
        "_",
    )
    assert IamDataset().lines == []


def _png(page: np.ndarray, extension: str) -> bytes:
    return cv2.imencode(extension, page)[1].tobytes()


@pytest.fixture
def tiny_mirror(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A two-form archive in the IAM layout, with one annotated form missing, as the data mirror."""
    page = np.full((300, 400), 235, np.uint8)
    page[110:130, 60:300] = 30  # the "writing" of line 00, inside its box
    rows = [
        "a01-000-00 ok 154 1 50 100 260 40 A|MOVE|,|it|'s",
        "a01-000-01 ok 154 1 50 200 100 40 to",  # no ink in its box, as when a form image lacks a line
        "a01-000-02 ok 154 1 50 100 260 40 far|too|long|for|twenty|characters",
        'b01-000-00 ok 154 1 50 100 260 40 "|stop|"',
        "c01-000-00 ok 154 1 50 100 260 40 lost",
    ]
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("iamdb/forms/a01-000.png", _png(page, ".png"))
        archive.writestr("iamdb/forms/b01-000.jpg", _png(page, ".jpg"))
        archive.writestr("iamdb/ascii/lines.txt", "# comment\n" + "\n".join(rows) + "\n")
        archive.writestr("iamdb/ascii/forms.txt", "a01-000 000\nb01-000 001\nc01-000 002\n")
        archive.writestr("iamdb/task/trainset.txt", "a01-000-00\na01-000-01\na01-000-02\n")
        archive.writestr("iamdb/task/validationset1.txt", "c01-000-00\n")
        archive.writestr("iamdb/task/testset.txt", "b01-000-00\n")
    folder = tmp_path / "mirror" / "iam"
    folder.mkdir(parents=True)
    (folder / "iamdb.zip").write_bytes(buffer.getvalue())
    sha = hashlib.sha256(buffer.getvalue()).hexdigest()
    (folder / "metadata.toml").write_text(f'url = ""\nfilename = "iamdb.zip"\nsha256 = "{sha}"\n')
    monkeypatch.setenv(dataset_module.MIRROR_ENV_VAR, str(tmp_path / "mirror"))
    monkeypatch.setattr(dataset_module, "DATA_DIRNAME", tmp_path / "data")
    return tmp_path


def test_iam_dataset_on_a_tiny_archive(tiny_mirror: Path, capsys: pytest.CaptureFixture[str]) -> None:
    iam = IamDataset()
    iam.load_or_generate_data()
    assert iam.num_skipped == 1 and "skipped 1" in capsys.readouterr().out
    assert [(line.line_id, line.text, line.split) for line in iam.lines] == [
        ("a01-000-00", "A MOVE, it's", "train"),
        ("a01-000-01", "to", "train"),
        ("a01-000-02", "far too long for twenty characters", "train"),
        ("b01-000-00", '"stop"', "test"),
    ]
    pages = dict(iam.form_images(["a01-000", "b01-000"]))
    assert pages["a01-000"].shape == (300, 400) and pages["b01-000"].dtype == np.uint8
    assert not (tiny_mirror / "data").exists()  # the archive is read in place


def test_iam_lines_dataset_on_a_tiny_archive(tiny_mirror: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    data = IamLinesDataset(image_height=32, max_width=256, max_length=20)
    data.load_or_generate_data()
    assert data.x_train.shape == (1, 32, 256) and data.x_val.shape == (0, 32, 256) and data.x_test.shape[0] == 1
    assert data.texts["train"] == ["A MOVE, it's"] and data.line_ids["test"] == ["b01-000-00"]
    assert data.stats["train"]["left_out_blank"] == 1 and data.stats["train"]["left_out_too_long"] == 1
    labels = [data.mapping[label] for label in data.y_train[0]]
    assert "".join(labels) == "A MOVE, it's" + "_" * 8
    line = data.x_train[0]  # box 260 x 40 plus margins 8: 276 x 56 page pixels, so about 158 wide at 32 high
    assert line[16, 20:140].min() > 200 and line[:, 170:].max() == 0 and line[2].max() == 0  # white ink on black
    assert data.stats["validation"]["lines"] == 0 and data.stats["skipped_without_image"] == 1
    cache = data.processed_filename()
    assert cache.parent == tiny_mirror / "data" / "processed" / "iam_lines"
    assert cache != IamLinesDataset(image_height=48, max_width=256, max_length=20).processed_filename()
    monkeypatch.setattr(IamLinesDataset, "_build", lambda *_: pytest.fail("the cache was not reused"))
    again = IamLinesDataset(image_height=32, max_width=256, max_length=20)
    again.load_or_generate_data()
    assert np.array_equal(again.x_train, data.x_train)


def _mirror_has_iam() -> bool:
    mirror = os.environ.get(dataset_module.MIRROR_ENV_VAR)
    return mirror is not None and (Path(mirror) / "iam" / "iamdb.zip").exists()


needs_mirror = pytest.mark.skipif(not _mirror_has_iam(), reason="the data mirror has no IAM")


@pytest.fixture(scope="module")
def iam() -> IamDataset:
    dataset = IamDataset()
    dataset.load_or_generate_data()
    return dataset


@pytest.fixture(scope="module")
def iam_lines() -> IamLinesDataset:
    dataset = IamLinesDataset()
    dataset.load_or_generate_data()  # builds the cache the first time (about a minute), then loads it (seconds)
    return dataset


@needs_mirror
def test_mirror_splits_are_the_task_lists_less_skipped_lines(iam: IamDataset) -> None:
    counts = Counter(line.split for line in iam.lines)
    assert iam.zip_path is not None
    with zipfile.ZipFile(iam.zip_path) as archive:
        for stem, split, listed in (
            ("trainset", "train", 4245),
            ("validationset1", "validation", 499),
            ("testset", "test", 845),
        ):
            line_ids = archive.read(f"iamdb/task/{stem}.txt").decode().split()
            without_image = sum(line_id.rsplit("-", 1)[0] not in iam.form_members for line_id in line_ids)
            assert len(line_ids) == listed and counts[split] == listed - without_image
    assert len(iam.lines) + iam.num_skipped == 13353  # every line of ascii/lines.txt is kept or counted
    writers = {split: {line.writer for line in iam.lines if line.split == split} for split in counts}
    assert not (writers["train"] & writers["test"]) and not (writers["validation"] & writers["test"])


@needs_mirror
def test_mirror_line_images(iam: IamDataset, iam_lines: IamLinesDataset) -> None:
    counts = Counter(line.split for line in iam.lines)
    for split, stats in ((split, iam_lines.stats[split]) for split in ("train", "validation", "test")):
        assert stats["lines"] + stats["left_out_blank"] + stats["left_out_too_long"] == counts[split]
        assert stats["left_out_blank"] < 0.01 * counts[split]
    assert iam_lines.x_train.shape == (len(iam_lines.texts["train"]), 64, 1280) and iam_lines.x_train.dtype == np.uint8
    assert len(iam_lines.x_val) == len(iam_lines.y_val) == len(iam_lines.texts["validation"])
    for image, labels, text in zip(iam_lines.x_test[:20], iam_lines.y_test[:20], iam_lines.texts["test"], strict=False):
        assert np.median(image) == 0 and np.percentile(image, 99) > 150  # white ink on black
        assert "".join(iam_lines.mapping[label] for label in labels).rstrip("_") == text
    assert iam_lines.stats["replaced_characters"] == {}  # IAM's characters all are in the mapping


def test_lines_found_before_preparing_are_another_preparation_and_cache() -> None:
    plain, found = IamLinesDataset(), IamLinesDataset(find_line=True)
    assert plain.preprocessing == {"method": "line", "height": 64, "max_width": 1280}
    assert found.preprocessing == {"method": "found_line", "height": 64, "max_width": 1280, "margin": 8}
    assert found.contract()["preprocessing"] == found.preprocessing  # what the artifact will declare
    assert plain.processed_filename() != found.processed_filename()
