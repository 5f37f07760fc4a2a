#!/usr/bin/env bash
# Trains and ships the LSTM-CTC line predictor on IAM handwritten lines.
set -euo pipefail
cd "$(dirname "$0")/.."
required=text_recognizer/datasets/iam_lines_dataset.py
[[ -f $required ]] || { echo "$0: $required is missing: the IAM lines data set is not written yet" >&2; exit 1; }
python training/run_experiment.py --save "$@" \
  '{"dataset": "IamLinesDataset", "model": "LineModelCtc", "network": "line_lstm_ctc", "train_args": {"batch_size": 32, "epochs": 40, "early_stopping_patience": 5}}'
