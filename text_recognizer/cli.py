"""Command-line entry point.

    python -m text_recognizer.cli predict path/to/character.png
"""

import argparse
import sys


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m text_recognizer.cli", description="Read handwriting in images.")
    commands = parser.add_subparsers(dest="command", required=True)
    predict = commands.add_parser("predict", help="recognize the character in each image")
    predict.add_argument("images", nargs="+", help="image files (PNG, JPEG, ...)")
    predict.add_argument("--network", default="lenet", help="which shipped character model (default: lenet)")
    args = parser.parse_args(argv)

    from text_recognizer.character_predictor import CharacterPredictor
    from text_recognizer.util import ImageError, read_image

    try:
        predictor = CharacterPredictor(network=args.network)
    except FileNotFoundError as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    status = 0
    for path in args.images:
        try:
            char, confidence = predictor.predict(read_image(path))
        except ImageError as e:
            print(f"{path}\terror: {e}", file=sys.stderr)
            status = 1
            continue
        print(f"{path}\t{char}\t{confidence:.3f}")
    return status


if __name__ == "__main__":
    sys.exit(main())
