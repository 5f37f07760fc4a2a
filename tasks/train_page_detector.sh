#!/usr/bin/env bash
# Trains and ships the whole-page line detector: a fully convolutional network labelling each pixel of an IAM form
# page, scaled to 620 pixels wide (a handwritten line 20-30 pixels high), as background, odd handwritten line, even
# handwritten line or printed text. It trains on random 512x384 windows of the pages (scan and binarized), distorted as
# scans and photos vary (page_augmentation.py), and takes pages of any size; the row context summarises rows by their
# mean, and a 32-dilated block lets every pixel see ~1000 input rows to count lines from the first.
# The shipped weights come from three runs, each from the last one's weights (recorded under initialized_from in
# weights/LineDetectorModel_IamPagesDataset_fcn.json), about 2-4 minutes an epoch on 2 shared CPU cores:
#   this script (28 epochs; test pixel accuracy 97.1%), then
#   train_args.epochs=20 train_args.learning_rate=0.001 train_args.initial_weights=<the shipped .weights.h5> (97.3%),
#   then, with windows that show the page's foot (page_augmentation.WHOLE_TEXT_PROBABILITY),
#   train_args.epochs=15 train_args.learning_rate=0.0005 train_args.initial_weights=<the shipped .weights.h5> (97.4%).
# Extra arguments are key=value overrides, e.g. train_args.epochs=2 for a smoke run.
set -euo pipefail
cd "$(dirname "$0")/.."
python training/run_experiment.py --save \
  '{"dataset": "IamPagesDataset", "dataset_args": {"width": 620, "multiple": 8, "crop": [512, 384]}, "model": "LineDetectorModel", "network": "fcn", "network_args": {"filters": 40, "strides": 4, "dilations": [1, 2, 4, 8, 16, 32, 2], "row_context": true}, "train_args": {"batch_size": 8, "epochs": 28, "learning_rate": 0.002, "early_stopping_patience": 8, "reduce_lr_patience": 3}}' \
  "$@"
