#!/usr/bin/env bash
# Fine-tunes the shipped IAM line reader on your own labelled lines and ships the result as the artifact NAME:
#   tasks/finetune_line_predictor.sh DATA [NAME] [key=value ...]
# DATA is anything text_recognizer.datasets.importers reads: a PAGE XML export (Transkribus, eScriptorium), an ALTO
# folder, a folder of <name>.png + <name>.gt.txt lines, or an FSDL (Dataturks) export. NAME defaults to
# LineModelCtc_own_<DATA's name>. The pages are split by page (seeded; train_args.seed, dataset_args.seed), a held-out
# part stops training early; the learning rate is low so that a few lines adapt the reader rather than overwrite it.
# Overrides go after NAME, e.g. train_args.freeze_conv=true (only the LSTM and output layers learn: safer below some
# hundred lines), train_args.epochs=30, dataset_args.test_fraction=0.2. Then read with LinePredictor("NAME"), and
# compare with the shipped reader on the held-out pages:
#   python evaluation/evaluate_line_predictor.py --data DATA --model NAME    (and without --model)
set -euo pipefail
if [[ $# -lt 1 || $1 == -h || $1 == --help ]]; then
  sed -n '2,12p' "$0" | sed 's/^# \{0,1\}//'
  exit 2
fi
DATA=$(realpath "$1")
shift
if [[ $# -gt 0 && $1 != *=* && $1 != --* ]]; then
  NAME=$1
  shift
else
  NAME="LineModelCtc_own_$(basename "$DATA" | sed 's/\.[^.]*$//; s/[^A-Za-z0-9_.-]/_/g')"
fi
cd "$(dirname "$0")/.."
BASE=LineModelCtc_IamLinesDataset_line_lstm_ctc
CONFIG=$(python - "$DATA" "$BASE" <<'PYTHON'
import json, sys
data, base = sys.argv[1:]
shipped = json.load(open(f"text_recognizer/weights/{base}.json"))["config"]
# Lines made as the shipped reader's were (its height, width, margin, and whether it finds the ink first).
shape = {k: v for k, v in shipped.get("dataset_args", {}).items() if k in ("image_height", "max_width", "margin", "find_line")}
print(json.dumps({
    "dataset": "LinesDataset",
    "dataset_args": {"source": data, "validation_fraction": 0.15, "test_fraction": 0.15, **shape},
    "model": "LineModelCtc",
    "network": shipped["network"],
    "network_args": shipped["network_args"],
    "model_args": shipped.get("model_args"),  # decode as the shipped reader does (beam search, language model)
    "train_args": {"batch_size": 8, "epochs": 20, "learning_rate": 0.0001, "early_stopping_patience": 4,
                   "reduce_lr_patience": 2, "initial_weights": f"text_recognizer/weights/{base}.weights.h5",
                   "seed": 0},
}))
PYTHON
)
python training/run_experiment.py --save --name "$NAME" "$CONFIG" "$@"
python training/export_models.py "$NAME"
echo "Shipped text_recognizer/artifacts/$NAME: LinePredictor(\"$NAME\") reads with it"
