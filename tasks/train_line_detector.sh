#!/usr/bin/env bash
# Trains and ships the line detector: a fully convolutional network labelling each pixel of an IAM paragraph image
# (256x256) as background, odd line or even line. The stem shrinks the image 4 times, six dilated residual blocks of 48
# filters see the whole paragraph from every pixel, and row context counts lines down the height (40-60 s an epoch on 2
# shared CPU cores; early stopping ended the shipped run after 25 epochs, 24 minutes); training batches are distorted.
# Extra arguments are key=value overrides, e.g. train_args.epochs=60 to extend a run.
set -euo pipefail
cd "$(dirname "$0")/.."
python training/run_experiment.py --save \
  '{"dataset": "IamParagraphsDataset", "dataset_args": {"image_size": 256, "margin": 32}, "model": "LineDetectorModel", "network": "fcn", "network_args": {"filters": 48, "strides": 4, "dilations": [1, 2, 4, 8, 16, 2], "row_context": true}, "train_args": {"batch_size": 16, "epochs": 36, "learning_rate": 0.002, "early_stopping_patience": 6, "reduce_lr_patience": 2}}' \
  "$@"
