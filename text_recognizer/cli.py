"""Command-line entry point.

    python -m text_recognizer.cli predict path/to/character.png
    python -m text_recognizer.cli predict --mode line path/to/line.png
    python -m text_recognizer.cli predict --mode paragraph path/to/paragraph.png

Prints a tab-separated line per image: its path, the text read (a paragraph's lines joined with " | ") and the
confidence; unreadable images are reported on stderr and make the exit status 1.
"""

import argparse
import sys

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
    args = parser.parse_args(argv)

    from text_recognizer.artifacts import ArtifactError
    from text_recognizer.predictors import load_predictor
    from text_recognizer.util import ImageError, read_image

    try:
        predictor = load_predictor(args.mode, args.network)
    except (FileNotFoundError, ArtifactError) as e:
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


if __name__ == "__main__":
    sys.exit(main())
