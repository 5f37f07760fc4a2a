"""Importers of labelled pages (PAGE XML, ALTO, line folders, FSDL exports), the errors they give for bad files, and
the line, page and mixed data sets over them, on small synthetic pages (no network, no IAM)."""

import json
from pathlib import Path

import cv2
import numpy as np
import pytest

from text_recognizer.datasets import LinesDataset, MixedLinesDataset, PagesDataset
from text_recognizer.datasets import dataset as dataset_module
from text_recognizer.datasets.importers import ImportFormatError, import_source
from text_recognizer.datasets.mixed_lines_dataset import check_sources
from text_recognizer.datasets.source_pages import assign_splits, line_crops

PAGE_NS = "http://schema.primaresearch.org/PAGE/gts/pagecontent/2019-07-15"
ALTO_NS = "http://www.loc.gov/standards/alto/ns-v4#"
# Two lines of "ink" (dark bars with gaps, as words) on a 400 x 200 page, at these boxes (x, y, w, h).
LINE_BOXES = [(20, 20, 360, 40), (20, 110, 300, 40)]


def _page_image(path: Path, seed: int = 0) -> Path:
    rng = np.random.default_rng(seed)
    page = np.full((200, 400), 235, np.uint8)
    for x, y, w, h in LINE_BOXES:
        for left in range(x + 5, x + w - 20, 30):
            page[y + 8 : y + h - 8, left : left + int(rng.integers(10, 25))] = 20
    cv2.imwrite(str(path), page)
    return path


def _points(box: tuple[int, int, int, int]) -> str:
    x, y, w, h = box
    return f"{x},{y} {x + w},{y} {x + w},{y + h} {x},{y + h}"


def _page_xml(image: str, lines: list[tuple[str, str]]) -> str:
    body = "".join(
        f'<TextLine id="l{i}"><Coords points="{points}"/><TextEquiv><Unicode>{text}</Unicode></TextEquiv></TextLine>'
        for i, (points, text) in enumerate(lines)
    )
    return (
        f'<PcGts xmlns="{PAGE_NS}"><Page imageFilename="{image}"><TextRegion id="r">{body}</TextRegion></Page></PcGts>'
    )


def _transkribus_export(folder: Path, texts: tuple[str, ...] = ("the first line", "and the second")) -> Path:
    """Transkribus' layout: images in the folder, PAGE XML in page/, a mets.xml beside them."""
    (folder / "page").mkdir(parents=True)
    for name in ("0001", "0002", "0003"):
        _page_image(folder / f"{name}.png", seed=int(name))
        lines = [(_points(box), text) for box, text in zip(LINE_BOXES, texts, strict=True)]
        (folder / "page" / f"{name}.xml").write_text(_page_xml(f"{name}.png", lines))
    (folder / "mets.xml").write_text('<mets xmlns="http://www.loc.gov/METS/"/>')
    return folder


@pytest.fixture
def data_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setattr(dataset_module, "DATA_DIRNAME", tmp_path / "data")
    return tmp_path / "data"


def test_page_xml_export(tmp_path: Path) -> None:
    source = import_source(_transkribus_export(tmp_path / "export"))
    assert source.format == "page_xml" and [page.id for page in source.pages] == ["page/0001", "page/0002", "page/0003"]
    page = source.pages[0]
    assert page.image == str(tmp_path / "export" / "0001.png")  # found one folder up, as Transkribus lays it out
    assert [line.text for line in page.lines] == ["the first line", "and the second"]
    assert page.lines[0].pixel_box(400, 200, page.relative) == LINE_BOXES[0]
    assert len(source.files) == 3  # mets.xml passed over


def test_page_xml_text_from_lowest_index_or_words(tmp_path: Path) -> None:
    _page_image(tmp_path / "p.png")
    line = (f'<TextLine id="a"><Coords points="{_points(LINE_BOXES[0])}"/>'
            '<TextEquiv index="2"><Unicode>second guess</Unicode></TextEquiv>'
            '<TextEquiv index="1"><Unicode>best guess</Unicode></TextEquiv></TextLine>'
            f'<TextLine id="b"><Coords points="{_points(LINE_BOXES[1])}"/>'
            '<Word><TextEquiv><Unicode>two</Unicode></TextEquiv></Word>'
            '<Word><TextEquiv><Unicode>words</Unicode></TextEquiv></Word></TextLine>')  # fmt: skip
    xml = f'<PcGts xmlns="{PAGE_NS}"><Page imageFilename="p.png"><TextRegion>{line}</TextRegion></Page></PcGts>'
    (tmp_path / "p.xml").write_text(xml)
    assert [line.text for line in import_source(tmp_path / "p.xml").pages[0].lines] == ["best guess", "two words"]


def _alto(image: str, lines: str, unit: str = "pixel") -> str:
    return (f'<alto xmlns="{ALTO_NS}"><Description><MeasurementUnit>{unit}</MeasurementUnit><sourceImageInformation>'
            f"<fileName>{image}</fileName></sourceImageInformation></Description><Layout><Page><PrintSpace>"
            f"<TextBlock>{lines}</TextBlock></PrintSpace></Page></Layout></alto>")  # fmt: skip


def test_alto_export(tmp_path: Path) -> None:
    _page_image(tmp_path / "scan.png")
    lines = ('<TextLine ID="l1" HPOS="20" VPOS="20" WIDTH="360" HEIGHT="40"><String CONTENT="the"/><SP/>'
             '<String CONTENT="first"/></TextLine>'
             '<TextLine ID="l2" HPOS="0" VPOS="0" WIDTH="1" HEIGHT="1"><Shape><Polygon POINTS="20 110 320 110 320 150 '
             '20 150"/></Shape><String CONTENT="second"/></TextLine>')  # fmt: skip
    (tmp_path / "scan.xml").write_text(_alto("scan.png", lines))
    source = import_source(tmp_path)
    assert source.format == "alto"
    page = source.pages[0]
    assert [line.text for line in page.lines] == ["the first", "second"]
    assert [line.pixel_box(400, 200, False) for line in page.lines] == [LINE_BOXES[0], (20, 110, 300, 40)]


def test_pages_in_both_formats_are_read_once(tmp_path: Path) -> None:
    export = _transkribus_export(tmp_path / "export")
    (export / "alto").mkdir()
    (export / "alto" / "0001.xml").write_text(_alto("0001.png", ""))
    source = import_source(export)
    assert source.format == "page_xml" and len(source.pages) == 3


def test_line_folder(tmp_path: Path) -> None:
    for name, text in (("a", "one line\n"), ("b", "\ufeffanother")):
        _page_image(tmp_path / f"{name}.png")
        (tmp_path / f"{name}.gt.txt").write_text(text, encoding="utf-8")
    _page_image(tmp_path / "untranscribed.png")
    source = import_source(tmp_path)
    assert source.format == "line_folder" and source.skipped == 1
    assert [(page.id, page.lines[0].text, page.relative) for page in source.pages] == [
        ("a", "one line", True),
        ("b", "another", True),
    ]
    assert source.pages[0].lines[0].pixel_box(400, 200, True) == (0, 0, 400, 200)


def test_fsdl_export(tmp_path: Path) -> None:
    record = {"content": "http://127.0.0.1:1/pages/p1.jpg", "annotation": [
        {"label": ["line"], "shape": "rectangle", "points": [[0.1, 0.2], [0.9, 0.3]], "notes": "a line"}]}  # fmt: skip
    (tmp_path / "export.json").write_text(json.dumps(record) + "\n")
    source = import_source(tmp_path / "export.json")
    page = source.pages[0]
    assert source.format == "fsdl" and page.id == "p1" and page.is_remote and page.relative
    assert page.lines[0].text == "a line" and page.lines[0].pixel_box(1000, 100, True) == (100, 20, 800, 10)


BAD_FILES: dict[str, tuple[str, str | bytes, str]] = {
    "malformed xml": ("p.xml", "<PcGts", "not well-formed XML"),
    "no coords": ("p.xml", _page_xml("p.png", [("", "t")]).replace('<Coords points=""/>', ""), "l0 has no Coords"),
    "bad points": ("p.xml", _page_xml("p.png", [("1,2 x,4", "t")]), "TextLine l0: points '1,2 x,4' are not numbers"),
    "one point": ("p.xml", _page_xml("p.png", [("1,2", "t")]), "are not two or more x,y pairs"),
    "missing image": ("p.xml", _page_xml("gone.png", []), "its image 'gone.png' is neither beside it"),
    "no page": ("p.xml", f'<PcGts xmlns="{PAGE_NS}"/>', "no Page element with an imageFilename"),
    "other xml": ("p.xml", "<html/>", "neither PAGE XML nor ALTO"),
    "alto in mm": ("p.xml", _alto("p.png", "", unit="mm10"), "MeasurementUnit is 'mm10'"),
    "alto no box": ("p.xml", _alto("p.png", '<TextLine ID="x" HPOS="1"/>'), "TextLine x lacks a numeric HPOS"),
    "alto no image": ("p.xml", _alto("", ""), "no Description/sourceImageInformation/fileName"),
    "fsdl not json": ("e.json", '{"content": "u"}\nnot json\n', "Line 2 of the export is not a Dataturks record"),
    "gt without image": ("x.gt.txt", "text", "no line image beside it"),
    "gt not utf-8": ("p.gt.txt", b"caf\xe9", "not UTF-8 text"),
    "gt two lines": ("p.gt.txt", "one\ntwo", "holds 2 lines of text"),
}  # fmt: skip


@pytest.mark.parametrize("case", sorted(BAD_FILES))
def test_bad_files_are_named_with_their_problem(tmp_path: Path, case: str) -> None:
    name, content, problem = BAD_FILES[case]
    _page_image(tmp_path / "p.png")
    path = tmp_path / name
    path.write_bytes(content if isinstance(content, bytes) else content.encode())
    with pytest.raises(ImportFormatError) as error:
        import_source(path if path.suffix in (".xml", ".json") else tmp_path)
    assert error.value.path == path and problem in str(error.value) and str(path) in str(error.value)


def test_nothing_to_import(tmp_path: Path) -> None:
    with pytest.raises(ImportFormatError, match="holds no PAGE XML or ALTO page"):
        import_source(tmp_path)
    with pytest.raises(ImportFormatError, match="no such file or folder"):
        import_source(tmp_path / "missing")


def test_polygon_outside_is_painted_paper() -> None:
    from text_recognizer.datasets.importers import ImportedLine, ImportedPage

    page = np.full((100, 100), 230, np.uint8)
    page[10:20, 10:90] = 0  # ink inside the triangle's bounding box but outside the triangle
    triangle = ImportedLine("x", ((0, 100), (100, 100), (50, 40)))
    square = ImportedLine("x", ((0, 0), (100, 0), (100, 100), (0, 100)))
    (_, masked), (_, whole) = line_crops(ImportedPage("p", "p.png", (triangle, square)), page, margin=2)
    assert masked.min() > 200 and whole.min() == 0


def test_splits_by_page_are_seeded_and_given_ones_kept() -> None:
    from text_recognizer.datasets.importers import ImportedPage

    pages = [ImportedPage(f"p{i}", "x.png", ()) for i in range(10)]
    first, again = (assign_splits(pages, None, 0.2, 0.2, seed=3) for _ in range(2))
    assert first == again and sorted(first.values()).count("test") == 2 and list(first.values()).count("train") == 6
    assert assign_splits(pages, None, 0.2, 0.2, seed=4) != first
    assert set(assign_splits(pages[:2], None, 0.2, 0.2, 0).values()) == {"train"}  # too few pages to hold any out
    given = assign_splits(pages, {"test": ["p1"], "validation": ["p2"]}, 0.2, 0.2, 0)
    assert given["p1"] == "test" and given["p2"] == "validation" and list(given.values()).count("train") == 8
    with pytest.raises(ValueError, match="does not have"):
        assign_splits(pages, {"test": ["p99"]}, 0.2, 0.2, 0)


def test_lines_dataset_maps_or_drops_characters_and_caches_by_content(tmp_path: Path, data_dir: Path) -> None:
    export = _transkribus_export(tmp_path / "export", texts=("“naïve” café", "price 5€ ok"))
    dataset = LinesDataset(str(export), validation_fraction=0.34, test_fraction=0.34)
    dataset.load_or_generate_data()
    assert dataset.x_train.shape == (2, 64, 1280) and len(dataset.x_val) == len(dataset.x_test) == 2
    assert dataset.texts["train"] == ['"naive" cafe', "price 5 ok"]
    assert dataset.stats["mapped_characters"] == {"“": 3, "”": 3, "ï": 3, "é": 3}
    assert dataset.stats["dropped_characters"] == {"€": 3}
    assert dataset.contract()["preprocessing"] == {"method": "line", "height": 64, "max_width": 1280}
    caches = sorted((data_dir / "processed" / "imported_lines").glob("*.h5"))
    assert len(caches) == 1
    # Moved, the export keeps its cache; edited, it gets another.
    (tmp_path / "export").rename(tmp_path / "moved")
    LinesDataset(str(tmp_path / "moved"), validation_fraction=0.34, test_fraction=0.34).load_or_generate_data()
    assert sorted((data_dir / "processed" / "imported_lines").glob("*.h5")) == caches
    xml = tmp_path / "moved" / "page" / "0001.xml"
    xml.write_text(xml.read_text().replace("café", "cafe"))
    LinesDataset(str(tmp_path / "moved"), validation_fraction=0.34, test_fraction=0.34).load_or_generate_data()
    assert len(list((data_dir / "processed" / "imported_lines").glob("*.h5"))) == 2


def test_lines_found_in_loose_crops_are_what_prediction_prepares(tmp_path: Path, data_dir: Path) -> None:
    from text_recognizer.datasets.importers import ImportedLine, ImportedPage
    from text_recognizer.preprocessing import as_page, prepare

    export = _transkribus_export(tmp_path / "export")
    dataset = LinesDataset(str(export), validation_fraction=0.0, test_fraction=0.0, find_line=True)
    dataset.load_or_generate_data()
    spec = dataset.contract()["preprocessing"]
    assert spec == {"method": "found_line", "height": 64, "max_width": 1280, "margin": 8}
    page = cv2.imread(str(export / "0001.png"), cv2.IMREAD_GRAYSCALE)
    assert page is not None
    box = ((20, 20), (380, 20), (380, 60), (20, 60))  # the first line's, as the export has it
    ((_, crop),) = line_crops(ImportedPage("p", "p.png", (ImportedLine("x", box),)), page, margin=8)
    np.testing.assert_array_equal(dataset.x_train[0], prepare(as_page(crop), spec))
    # One model trains on IAM's and one's own lines only if both are made the same way.
    MixedLinesDataset([{"dataset": "IamLinesDataset", "args": {"find_line": True}},
                       {"dataset": "LinesDataset", "args": {"source": str(export), "find_line": True}}])  # fmt: skip
    with pytest.raises(ValueError, match="has another preprocessing"):
        MixedLinesDataset([{"dataset": "IamLinesDataset", "args": {"find_line": True}},
                           {"dataset": "LinesDataset", "args": {"source": str(export)}}])  # fmt: skip


def test_a_bad_file_caches_nothing(tmp_path: Path, data_dir: Path) -> None:
    export = _transkribus_export(tmp_path / "export")
    (export / "0002.png").write_bytes(b"not an image")
    with pytest.raises(ImportFormatError, match="0002.png: the image of page 'page/0002' cannot be read"):
        LinesDataset(str(export)).load_or_generate_data()
    assert not list((data_dir / "processed").rglob("*.h5"))


def test_pages_dataset(tmp_path: Path, data_dir: Path) -> None:
    dataset = PagesDataset(str(_transkribus_export(tmp_path / "export")), image_size=128, validation_fraction=0.0,
                           test_fraction=0.0)  # fmt: skip
    dataset.load_or_generate_data()
    assert dataset.x_train.shape == dataset.y_train.shape == (3, 128, 128)
    assert set(np.unique(dataset.y_train)) == {0, 1, 2}


def test_mixed_lines_by_weight(tmp_path: Path, data_dir: Path) -> None:
    one, other = _transkribus_export(tmp_path / "one"), _transkribus_export(tmp_path / "other", ("other", "texts"))
    args = {"validation_fraction": 0.0, "test_fraction": 0.0}
    mixed = MixedLinesDataset([
        {"dataset": "LinesDataset", "args": {"source": str(one), **args}, "weight": 1},
        {"dataset": "LinesDataset", "args": {"source": str(other), **args}, "weight": 2},
    ])  # fmt: skip
    mixed.load_or_generate_data()
    assert len(mixed.x_train) == 12 and mixed.train_counts == [4, 8]
    sources = mixed.sources()
    assert [s["source"] for s in sources] == [str(one), str(other)] and all(len(s["sha256"]) == 64 for s in sources)
    assert sources[0]["sha256"] != sources[1]["sha256"] and len(mixed.raw_sha256()) == 64


@pytest.mark.parametrize(
    ("sources", "message"),
    [
        ([], "non-empty list"),
        (["IamLinesDataset"], "dataset[0] must be an object"),
        ([{"dataset": "IamLinesDataset", "weight": -1}], "dataset[0].weight must be a positive number, got -1"),
        ([{"dataset": "IamLinesDataset", "wieght": 1}], "dataset[0]: unknown keys ['wieght']"),
        ([{"dataset": "IamLinesDataset"}, {"args": {}}], "dataset[1].dataset must be a data set class name"),
    ],
)
def test_bad_mixes_are_clear_errors(sources: object, message: str) -> None:
    with pytest.raises(ValueError) as error:
        check_sources(sources)
    assert message in str(error.value)


def test_mixed_sources_must_agree() -> None:
    with pytest.raises(ValueError, match="has another input_shape"):
        MixedLinesDataset([{"dataset": "IamLinesDataset"}, {"dataset": "LinesDataset", "args": {"image_height": 32}}])
    with pytest.raises(ValueError, match="unknown data set 'Nope'"):
        MixedLinesDataset([{"dataset": "Nope"}])
