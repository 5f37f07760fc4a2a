"""What the data sets over imported sources share: where the source is, its pages fetched and hashed, their splits.

    >>> from text_recognizer.datasets.imported_dataset import ImportedDataset
    >>> class MyDataset(ImportedDataset): ...     # see LinesDataset and PagesDataset

A subclass calls `self.import_pages()` first: the export is parsed and its images fetched (and hashed: the cache key is
the source's content hash), so a file that fails to import raises before any cache is written; then it builds its
cache from those pages through `load_cache`.
"""

from pathlib import Path
from typing import Any

from text_recognizer.datasets.dataset import Dataset
from text_recognizer.datasets.fsdl_handwriting_dataset import FsdlHandwritingDataset, FsdlPage
from text_recognizer.datasets.importers import ImportedPage, ImportedSource, import_source
from text_recognizer.datasets.source_pages import assign_splits, content_sha256, fetch_images

IMAGES_FOLDER = "imported_pages"


class ImportedDataset(Dataset):
    """A data set over any importable source (see `text_recognizer.datasets.importers`), split by page.

    Args:
        source: a PAGE XML or ALTO folder (or file), a line folder (`*.gt.txt`), or an FSDL export (`.json`).
        splits: split name -> page ids (pages left out train); default: each page's own split where the source gives
            one, else pages shuffled with `seed`, `validation_fraction` and `test_fraction` of them held out.
    """

    def __init__(
        self,
        source: str | None = None,
        splits: dict[str, list[str]] | None = None,
        validation_fraction: float = 0.1,
        test_fraction: float = 0.1,
        seed: int = 0,
    ):
        for name, fraction in (("validation_fraction", validation_fraction), ("test_fraction", test_fraction)):
            if not 0 <= fraction < 1:
                raise ValueError(f"{name} must be in [0, 1), got {fraction}")
        if validation_fraction + test_fraction >= 1:
            raise ValueError("validation_fraction and test_fraction must leave some pages to train on")
        self.source = source
        self.splits, self.seed = splits, seed
        self.validation_fraction, self.test_fraction = validation_fraction, test_fraction
        self.source_sha256 = ""
        self.imported: ImportedSource | None = None

    def source_location(self) -> str:
        """The export to read (subclasses may have a default)."""
        if not self.source:
            raise ValueError(f"{type(self).__name__} needs a source: the path of an export (dataset_args.source)")
        return self.source

    def import_pages(self) -> tuple[list[ImportedPage], dict[str, Path], dict[str, str]]:
        """The source's pages that have lines, their local image files, and each one's split; sets `source_sha256`."""
        self.imported = import_source(self.source_location())
        pages = [page for page in self.imported.pages if page.lines]
        sourced = ImportedSource(self.imported.location, self.imported.format, pages, self.imported.files)
        images = fetch_images(sourced, self.data_dirname() / "raw" / IMAGES_FOLDER, self.known_image)
        self.source_sha256 = content_sha256(sourced, images)
        splits = assign_splits(pages, self.splits, self.validation_fraction, self.test_fraction, self.seed)
        return pages, images, splits

    def known_image(self, page: ImportedPage) -> Path | None:
        """A local copy of a remote page's image that another data set already fetched, if any."""
        return None

    def split_params(self) -> dict[str, Any]:
        """What the split depends on, for the cache key."""
        return {"splits": self.splits, "validation_fraction": self.validation_fraction,
                "test_fraction": self.test_fraction, "seed": self.seed}  # fmt: skip

    def raw_sha256(self) -> str:  # type: ignore[override]  # an instance's: each source hashes differently
        """The content hash of the source (see `source_pages.content_sha256`); known once the data are loaded."""
        if not self.source_sha256:
            raise ValueError(f"{type(self).__name__}: call load_or_generate_data() before raw_sha256()")
        return self.source_sha256

    def sources(self) -> list[dict[str, Any]]:
        """The source on record, as the weights' and the artifact's JSON keep it."""
        return [{
            "dataset": type(self).__name__,
            "source": str(self.source_location()),
            "format": self.imported.format if self.imported else None,
            "sha256": self.raw_sha256(),
        }]  # fmt: skip


class FsdlExport:
    """For the data sets over the FSDL handwriting export: the mirrored export by default, and the page images that
    `FsdlHandwritingDataset.download_pages()` fetched, where it did."""

    source: str | None

    def source_location(self) -> str:
        return self.source or str(FsdlHandwritingDataset.raw_file())

    def known_image(self, page: ImportedPage) -> Path | None:
        if self.source:  # another export: its page ids may name other images
            return None
        return FsdlHandwritingDataset.pages_dirname() / f"{page.id}{FsdlPage(page.id, page.image, ()).extension}"
