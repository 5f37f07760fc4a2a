#!/usr/bin/env bash
# Trains and ships the character predictor's weights (LeNet, the default, and the MLP baseline).
set -euo pipefail
cd "$(dirname "$0")/.."
python training/run_experiment.py --save "$@" \
  '{"dataset": "EmnistDataset", "model": "CharacterModel", "network": "lenet", "train_args": {"batch_size": 128, "epochs": 20, "early_stopping_patience": 4}}'
python training/run_experiment.py --save "$@" \
  '{"dataset": "EmnistDataset", "model": "CharacterModel", "network": "mlp", "train_args": {"batch_size": 128, "epochs": 20, "early_stopping_patience": 4}}'
