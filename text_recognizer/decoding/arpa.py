"""What a decoder reads of an ARPA language model file before loading it: its vocabulary and its header's notes.

ARPA files made by `CharNgramModel.write_arpa` spell the space as `SPACE_TOKEN` (ARPA separates words by white
space) and may open with `# key: value` comment lines, which KenLM skips:

    >>> from text_recognizer.language_model import arpa_file   # (training side: it writes the file)
    >>> summary = read_arpa_summary(arpa_file("CharNgramModel_brown"))   # plain or gzip-compressed
    >>> sorted(summary.vocabulary)[:3], summary.metadata["order"]
    (['!', '"', '#'], '6')
"""

import gzip
from dataclasses import dataclass
from pathlib import Path

#: How the space is spelled in an ARPA file.
SPACE_TOKEN = "|"
#: The words of an ARPA file that are no character: the line's start and end, and the unknown word.
MARKERS = frozenset({"<s>", "</s>", "<unk>"})


@dataclass(frozen=True)
class ArpaSummary:
    """The `# key: value` lines before `\\data\\`, and the words of the 1-grams (markers included)."""

    metadata: dict[str, str]
    vocabulary: frozenset[str]


def read_arpa_summary(path: Path | str) -> ArpaSummary:
    """Read the header and the 1-grams of an ARPA file (`.gz` or plain); the rest of the file is not read."""
    path = Path(path)
    metadata: dict[str, str] = {}
    words: set[str] = set()
    section = "header"
    try:
        # Opened by its first bytes, as KenLM does, not by its name.
        with open(path, "rb") as f:
            compressed = f.read(2) == b"\x1f\x8b"
        with gzip.open(path, "rt") if compressed else open(path) as f:
            for line in f:
                line = line.strip()
                if section == "header":
                    if line.startswith("#"):
                        key, _, value = line[1:].partition(":")
                        if value:
                            metadata[key.strip()] = value.strip()
                    elif line == "\\data\\":
                        section = "counts"
                elif line == "\\1-grams:":
                    section = "1-grams"
                elif section == "1-grams":
                    if line.startswith("\\"):
                        break
                    if line:
                        fields = line.split()
                        if len(fields) < 2:
                            raise ValueError(f"{path} has a malformed 1-gram line: {line!r}")
                        words.add(fields[1])
    except (OSError, UnicodeDecodeError, EOFError) as e:
        raise ValueError(f"Cannot read the ARPA file {path}: {e}") from e
    if section != "1-grams":
        raise ValueError(f"{path} is not an ARPA file: it has no \\data\\ section with 1-grams")
    return ArpaSummary(metadata, frozenset(words))
