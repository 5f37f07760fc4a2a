"""Importers of labelled handwriting: every export format to one internal form (`ImportedSource` of `ImportedPage`s,
each with `ImportedLine`s: an outline and a text).

    >>> from text_recognizer.datasets.importers import import_source
    >>> source = import_source("my_transkribus_export")    # PAGE XML, ALTO, a line folder, or an FSDL export
    >>> source.format, len(source.pages), source.num_lines
    ('page_xml', 12, 287)

`import_source` tells the format from what it finds: a `.json`/`.jsonl` file is an FSDL (Dataturks) export; a folder
with `*.gt.txt` files is a line folder; otherwise every XML file under the folder (or the one XML file given) whose
root is PAGE XML or ALTO is a page (other XML, such as Transkribus' `mets.xml`, is passed over; a folder with both,
as Transkribus exports them side by side, is read from its PAGE XML only). A file that cannot be
imported raises `ImportFormatError`, whose message names the file and the problem.
"""

from pathlib import Path

from text_recognizer.datasets.importers.alto import is_alto, parse_alto
from text_recognizer.datasets.importers.base import (
    ImportedLine,
    ImportedPage,
    ImportedSource,
    ImportFormatError,
    check_unique_ids,
)
from text_recognizer.datasets.importers.fsdl import parse_fsdl_export
from text_recognizer.datasets.importers.line_folder import has_line_texts, parse_line_folder
from text_recognizer.datasets.importers.page_xml import is_page_xml, parse_page_xml, read_xml

FORMATS = ("fsdl", "line_folder", "page_xml", "alto")

__all__ = ["FORMATS", "ImportFormatError", "ImportedLine", "ImportedPage", "ImportedSource", "import_source"]


def import_source(location: str | Path) -> ImportedSource:
    """Every page of the export at `location` (a file or folder), in its own internal form."""
    path = Path(location)
    if not path.exists():
        raise ImportFormatError(path, "no such file or folder")
    if path.is_file() and path.suffix.lower() in (".json", ".jsonl"):
        pages, skipped = parse_fsdl_export(path)
        return _checked(ImportedSource(path, "fsdl", pages, [path], skipped))
    if path.is_dir() and has_line_texts(path):
        pages, skipped, files = parse_line_folder(path)
        return _checked(ImportedSource(path, "line_folder", pages, files, skipped))
    xml_files = [path] if path.is_file() else sorted(path.rglob("*.xml"))
    pages, files, kinds = [], [], []
    for xml_path in xml_files:
        root = read_xml(xml_path)
        if is_page_xml(root):
            pages.append(parse_page_xml(xml_path, root))
            kinds.append("page_xml")
        elif is_alto(root):
            pages.append(parse_alto(xml_path, root))
            kinds.append("alto")
        elif path.is_file():
            raise ImportFormatError(xml_path, f"neither PAGE XML nor ALTO (root element {root.tag})")
        else:
            continue  # METS, Transkribus' doc.xml and the like describe the export, not a page
        files.append(xml_path)
    if not pages:
        raise ImportFormatError(path, "holds no PAGE XML or ALTO page, no <name>.gt.txt line texts, no FSDL export")
    formats = set(kinds)
    if formats == {"page_xml", "alto"}:
        # Transkribus exports the same pages in both formats when asked to (page/ and alto/): read them once.
        kept = [i for i, kind in enumerate(kinds) if kind == "page_xml"]
        pages, files, formats = [pages[i] for i in kept], [files[i] for i in kept], {"page_xml"}
    # Ids are file stems, but Transkribus names pages alike in different folders: relative paths keep them apart.
    if path.is_dir():
        pages = [_with_id(page, str(f.relative_to(path).with_suffix(""))) for page, f in zip(pages, files, strict=True)]
    return _checked(ImportedSource(path, "+".join(sorted(formats)), pages, files))


def _with_id(page: ImportedPage, page_id: str) -> ImportedPage:
    return ImportedPage(page_id, page.image, page.lines, page.relative, page.split)


def _checked(source: ImportedSource) -> ImportedSource:
    check_unique_ids(source.location, source.pages)
    return source
