"""Records the SHA-256 of a data set's raw file in its metadata.toml, e.g. after a new export replaced it.

    python training/update_metadata.py data/raw/fsdl_handwriting/metadata.toml                     # file in place
    python training/update_metadata.py data/raw/fsdl_handwriting/metadata.toml --file export.json  # copy it in first

The file hashed is the one the metadata's `filename` names, beside the metadata.toml. With `--file`, the given file
is first copied there under that name. Only the `sha256 = "..."` line is rewritten: every other line, comments
included, is kept as it was. Both files are written under a temporary name and renamed into place, so an interrupted
run never leaves a half-written one. Errors (a missing file, a metadata.toml without `filename` or `sha256`) are one
line on stderr and exit status 2.
"""

import argparse
import re
import shutil
import sys
from pathlib import Path

import toml

from text_recognizer.util import atomic_path, sha256_of

_SHA256_LINE = re.compile(r"^(?P<key>[ \t]*sha256[ \t]*=[ \t]*)(?P<quote>[\"'])[^\"'\n]*(?P=quote)", re.MULTILINE)


class MetadataError(Exception):
    """The metadata or the file it names is missing or unusable; the message is for the user."""


def replace_sha256(text: str, sha256: str) -> str:
    """`text` with its one `sha256 = "..."` line's value replaced by `sha256`, everything else unchanged."""
    matches = list(_SHA256_LINE.finditer(text))
    if len(matches) != 1:
        raise MetadataError(f'expected one `sha256 = "..."` line, found {len(matches)}')
    match = matches[0]
    return f"{text[: match.start()]}{match['key']}{match['quote']}{sha256}{match['quote']}{text[match.end() :]}"


def update_metadata(metadata_path: Path, new_file: Path | None = None) -> tuple[str | None, str]:
    """Copy `new_file` (if given) beside the metadata under its `filename`, record its hash; (old, new) hash."""
    if not metadata_path.is_file():
        raise MetadataError(f"no such metadata file: {metadata_path}")
    with open(metadata_path, encoding="utf-8", newline="") as f:
        text = f.read()  # newline="": Windows line ends stay as they are
    try:
        metadata = toml.loads(text)
    except toml.TomlDecodeError as e:
        raise MetadataError(f"{metadata_path} is not valid TOML: {e}") from e
    filename = metadata.get("filename")
    if not isinstance(filename, str) or not filename or Path(filename).name != filename:
        raise MetadataError(f"{metadata_path} has no `filename` naming a file beside it")
    if "sha256" not in metadata:
        raise MetadataError(f"{metadata_path} has no `sha256`")
    try:
        replace_sha256(text, "")  # the line is there to be rewritten: check before copying anything
    except MetadataError as e:
        raise MetadataError(f"{metadata_path}: {e}") from e
    data_path = metadata_path.parent / filename
    if new_file is not None:
        if not new_file.is_file():
            raise MetadataError(f"no such file: {new_file}")
        if not (data_path.exists() and data_path.samefile(new_file)):
            with atomic_path(data_path) as temporary:
                shutil.copyfile(new_file, temporary)
    elif not data_path.is_file():
        raise MetadataError(f"no such file: {data_path} (the `filename` of {metadata_path}); pass --file to add it")
    old, new = metadata["sha256"], sha256_of(data_path)
    updated = replace_sha256(text, new)
    if updated != text:
        with atomic_path(metadata_path) as temporary:
            temporary.write_text(updated, encoding="utf-8", newline="")
    return (old if isinstance(old, str) else None), new


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("metadata", type=Path, help="a data set's metadata.toml")
    parser.add_argument("--file", type=Path, help="a new raw file, copied beside the metadata under its filename")
    args = parser.parse_args(argv)
    try:
        old, new = update_metadata(args.metadata, args.file)
    except (MetadataError, OSError) as e:
        print(f"{parser.prog}: error: {e}", file=sys.stderr)
        return 2
    print(f"{args.metadata}: sha256 {'unchanged, ' if old == new else f'{old} -> '}{new}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
