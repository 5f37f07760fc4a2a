"""Data sets, by the class names that experiment configs use."""

from text_recognizer.datasets.dataset import ChecksumError, DataError, Dataset
from text_recognizer.datasets.emnist_dataset import EmnistDataset
from text_recognizer.datasets.emnist_lines_dataset import EmnistLinesDataset
from text_recognizer.datasets.fsdl_handwriting_dataset import FsdlHandwritingDataset
from text_recognizer.datasets.iam_dataset import IamDataset
from text_recognizer.datasets.iam_lines_dataset import IamLinesDataset
from text_recognizer.datasets.iam_pages_dataset import IamPagesDataset
from text_recognizer.datasets.iam_paragraphs_dataset import IamParagraphsDataset
from text_recognizer.datasets.importers import ImportFormatError
from text_recognizer.datasets.lines_dataset import FsdlHandwritingLinesDataset, LinesDataset
from text_recognizer.datasets.mixed_lines_dataset import MixedLinesDataset
from text_recognizer.datasets.pages_dataset import FsdlHandwritingParagraphsDataset, PagesDataset

__all__ = [
    "ChecksumError",
    "DataError",
    "Dataset",
    "EmnistDataset",
    "EmnistLinesDataset",
    "FsdlHandwritingDataset",
    "FsdlHandwritingLinesDataset",
    "FsdlHandwritingParagraphsDataset",
    "IamDataset",
    "IamLinesDataset",
    "IamPagesDataset",
    "IamParagraphsDataset",
    "ImportFormatError",
    "LinesDataset",
    "MixedLinesDataset",
    "PagesDataset",
]
