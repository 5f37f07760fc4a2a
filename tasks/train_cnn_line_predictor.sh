#!/usr/bin/env bash
# Trains and ships the all-convolutional fixed-length line model on EMNIST Lines: the baseline the CTC model beats.
set -euo pipefail
cd "$(dirname "$0")/.."
python training/run_experiment.py --save \
  '{"dataset": "EmnistLinesDataset", "dataset_args": {"max_length": 34, "min_overlap": 0, "max_overlap": 0.33, "num_train": 16000, "num_test": 1000}, "model": "LineModel", "network": "line_cnn_all_conv", "train_args": {"batch_size": 32, "epochs": 8, "learning_rate": 0.001, "early_stopping_patience": 2, "reduce_lr_patience": 1}}' \
  "$@"
