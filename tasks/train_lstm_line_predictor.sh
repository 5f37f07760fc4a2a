#!/usr/bin/env bash
# Trains and ships the LSTM-CTC line predictor on EMNIST Lines (overlap 0..0.33), the one LinePredictor loads.
set -euo pipefail
cd "$(dirname "$0")/.."
python training/run_experiment.py --save \
  '{"dataset": "EmnistLinesDataset", "dataset_args": {"max_length": 34, "min_overlap": 0, "max_overlap": 0.33, "num_train": 16000, "num_test": 1000}, "model": "LineModelCtc", "network": "line_lstm_ctc", "train_args": {"batch_size": 32, "epochs": 25, "learning_rate": 0.001, "early_stopping_patience": 4, "reduce_lr_patience": 2}}' \
  "$@"
