"""Picks how a shipped CTC line model decodes: the language model's weight and the length bonus of its beam search.

    python training/tune_decoder.py LineModelCtc_IamLinesDataset_line_lstm_ctc --language-model CharNgramModel_brown \
        --lm-weights 0.4 0.5 0.6 --length-bonuses 0.9 1.2 1.5 1.8 --beam-width 16 --save

Every pair of `--lm-weights` and `--length-bonuses` decodes the data set's validation split (the network runs once)
with `text_recognizer.decoding.CtcDecoder`, as the runtime does; the pair with the lowest CER is then measured on the
test split, which played no part in choosing it, and all is printed (`cer: <test CER>` last), with the decoding time
per line. With `--save` the choice becomes the shipped model's `model_args`, so that its artifact decodes that way,
and its JSON records this command, the beam search's pruning, the validation grid and the test metrics it reached.
"""

import argparse
import itertools
import json
import shlex
import sys
import time


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("model", help="a shipped LineModelCtc, e.g. LineModelCtc_IamLinesDataset_line_lstm_ctc")
    parser.add_argument("--language-model", default="CharNgramModel_brown", help="a shipped language model")
    parser.add_argument("--lm-weights", type=float, nargs="+", default=[0.4, 0.5, 0.6])
    parser.add_argument("--length-bonuses", type=float, nargs="+", default=[0.9, 1.2, 1.5, 1.8])
    parser.add_argument("--beam-width", type=int, default=16)
    parser.add_argument("--save", action="store_true", help="make the best pair the shipped model's decoding")
    args = parser.parse_args(argv)

    from text_recognizer.datasets import DataError
    from text_recognizer.decoding import decoder as ctc_decoder
    from text_recognizer.models.base import WEIGHTS_DIRNAME, load_shipped_model
    from text_recognizer.models.line_model_ctc import LineModelCtc
    from text_recognizer.util import write_json

    try:
        model = load_shipped_model(args.model)
        if not isinstance(model, LineModelCtc):
            raise ValueError(f"{args.model} is a {type(model).__name__}, not a LineModelCtc")
        model.data.load_or_generate_data()
        data = model.data
        # The network's outputs, computed once: only their decoding changes from here on.
        splits = {
            split: (model.network.predict(x, batch_size=64, verbose=0), y)
            for split, x, y in (("validation", data.x_val, data.y_val), ("test", data.x_test, data.y_test))
        }
        grid = []
        for lm_weight, length_bonus in itertools.product(args.lm_weights, args.length_bonuses):
            decoder = {"beam_width": args.beam_width, "language_model": args.language_model,
                       "lm_weight": lm_weight, "length_bonus": length_bonus}  # fmt: skip
            model.set_decoder(**decoder)
            grid.append({**decoder, **model.evaluate_outputs(*splits["validation"])})
            print("validation " + " ".join(f"{key} {value}" for key, value in grid[-1].items()), flush=True)
    except (ValueError, DataError, FileNotFoundError) as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    best = min(grid, key=lambda row: row["cer"])
    decoder = {key: best[key] for key in ("beam_width", "language_model", "lm_weight", "length_bonus")}
    model.set_decoder()
    greedy = model.evaluate_outputs(*splits["test"])
    model.set_decoder(**decoder)
    test = model.evaluate_outputs(*splits["test"])
    start = time.perf_counter()
    model.decode(splits["test"][0])
    milliseconds = (time.perf_counter() - start) / len(splits["test"][0]) * 1000
    if args.save:
        info_path = WEIGHTS_DIRNAME / f"{args.model}.json"
        info = json.loads(info_path.read_text())
        info["config"]["model_args"] = decoder
        info["decoder"] = {
            "command": shlex.join(["python", "training/tune_decoder.py", *(argv or sys.argv[1:])]),
            # What else sets the search (text_recognizer.decoding.decoder's constants), for the record.
            "pruning": {
                "beam_size_token": ctc_decoder.BEAM_SIZE_TOKEN,
                "beam_threshold": ctc_decoder.BEAM_THRESHOLD,
                "sure_blank": ctc_decoder.SURE_BLANK,
            },
            "validation_grid": grid,
            "test_greedy": greedy,
            "test": test,
        }
        write_json(info_path, info)
        print(f"Saved the decoder in {info_path}")
    print(f"best on validation: {json.dumps(decoder)}")
    print(f"test greedy: cer {greedy['cer']:.4f} wer {greedy['wer']:.4f}")
    print(f"test wer: {test['wer']:.4f} (decoding, confidences included: {milliseconds:.1f} ms per line)")
    print(f"cer: {test['cer']:.4f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
