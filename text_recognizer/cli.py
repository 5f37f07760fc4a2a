"""Command-line entry point.

    python -m text_recognizer.cli predict path/to/character.png
    python -m text_recognizer.cli predict --mode line path/to/line.png
    python -m text_recognizer.cli predict --mode paragraph path/to/paragraph.png
    python -m text_recognizer.cli read scans/ --out read/ [--formats txt,json,alto,page,hocr,pdf] [--workers 2]
    python -m text_recognizer.cli read s3://bucket/scans --out /mnt/shared/read --ray --workers 8

`predict` prints a tab-separated line per image: its path, the text read (a paragraph's lines joined with " | ") and
the confidence; unreadable images are reported on stderr and make the exit status 1.

`read` reads documents (PNG, JPEG, TIFF, WebP, BMP, PDF; folders recursively) and writes each one's outputs under
`--out`, by default in every format, the mode whole pages as scanned (see `text_recognizer.batch`: output names,
resuming a stopped run, `--ray`). Inputs that fail are reported on stderr and skipped; a summary ends the run. Exit
status: 0, 1 when an input failed, 2 for bad usage (and an unloadable model), 130 when interrupted.
"""

import argparse
import os
import sys
import time
from pathlib import Path

from text_recognizer.batch import MODES as READ_MODES
from text_recognizer.predictors import MODES


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m text_recognizer.cli", description="Read handwriting in images.")
    commands = parser.add_subparsers(dest="command", required=True)
    predict = commands.add_parser("predict", help="read the handwriting in each image")
    predict.add_argument("images", nargs="+", help="image files (PNG, JPEG, ...)")
    predict.add_argument(
        "--mode", choices=MODES, default="character", help="what each image holds (default: character)"
    )
    predict.add_argument("--network", default="lenet", help="which shipped character model (default: lenet)")
    line_model_help = "the line artifact lines are read with, e.g. a fine-tuned one (default: the shipped IAM one)"
    predict.add_argument("--line-model", metavar="NAME", help=line_model_help)
    read = commands.add_parser("read", help="read documents and write their text in document formats")
    read.add_argument("inputs", nargs="+", metavar="INPUT", help="document files and folders (with --ray: or URIs)")
    read.add_argument("--out", type=Path, required=True, help="folder to write the outputs under")
    read.add_argument(
        "--formats", type=_formats, default=None, help="comma-separated: txt,json,alto,page,hocr,pdf (default: all)"
    )
    read.add_argument("--mode", choices=READ_MODES, default="page", help="what each page holds (default: page)")
    read.add_argument("--workers", type=_positive, default=1, help="documents read at once (default: 1)")
    read.add_argument("--force", action="store_true", help="read again inputs whose outputs are all written")
    read.add_argument("--ray", action="store_true", help="read with Ray Data (RAY_ADDRESS: on a cluster)")
    read.add_argument("--line-model", metavar="NAME", help=line_model_help)
    args = parser.parse_args(argv)
    if args.command == "read":
        return _read(args)

    from text_recognizer.artifacts import ArtifactError
    from text_recognizer.predictors import load_predictor
    from text_recognizer.util import ImageError, read_image

    try:
        predictor = load_predictor(args.mode, args.network, args.line_model)
    except (FileNotFoundError, ArtifactError, ValueError) as e:  # no such artifact, or not of this mode's kind
        print(f"error: {e}", file=sys.stderr)
        return 2
    status = 0
    for path in args.images:
        try:
            prediction = predictor.predict(read_image(path))
        except ImageError as e:
            print(f"{path}\terror: {e}", file=sys.stderr)
            status = 1
            continue
        print(f"{path}\t{prediction.text.replace(chr(10), ' | ')}\t{prediction.confidence:.3f}")
    return status


def _read(args: argparse.Namespace) -> int:
    if args.line_model:
        from text_recognizer.predictors import LINE_MODEL_ENV_VAR

        # Through the environment: the worker processes and Ray's actors load their predictors from it.
        os.environ[LINE_MODEL_ENV_VAR] = args.line_model
    from text_recognizer import batch
    from text_recognizer.artifacts import ArtifactError
    from text_recognizer.documents import FORMATS

    formats = args.formats or tuple(FORMATS)
    try:
        if not args.ray:
            remote = [source for source in args.inputs if "://" in source]
            if remote:
                raise batch.InputError(f"{remote[0]}: reading from an object store needs --ray")
            return batch.read_inputs(args.inputs, args.out, formats, args.mode, args.workers, args.force)
        start = time.perf_counter()
        results = batch.read_collection_with_ray(args.inputs, args.out, formats, args.mode, args.workers, args.force)
    except (batch.InputError, ImportError, FileNotFoundError, ArtifactError) as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("interrupted: rerun the same command to read what is left", file=sys.stderr)
        return 130
    for result in results:
        if result.error is not None:
            print(f"{result.path}\terror: {result.error}", file=sys.stderr)
    print(batch.summary(results, time.perf_counter() - start), file=sys.stderr)
    return int(any(result.error is not None for result in results))


def _formats(text: str) -> tuple[str, ...]:
    from text_recognizer.batch import check_formats

    try:
        return check_formats(text.split(","))
    except ValueError as e:
        raise argparse.ArgumentTypeError(str(e)) from e


def _positive(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        value = 0
    if value < 1:
        raise argparse.ArgumentTypeError(f"expected a whole number of 1 or more, got {text!r}")
    return value


if __name__ == "__main__":
    sys.exit(main())
