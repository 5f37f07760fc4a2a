#!/usr/bin/env bash
# Trains and ships the line detector: a fully convolutional network labelling the pixels of IAM paragraph images.
set -euo pipefail
cd "$(dirname "$0")/.."
for required in text_recognizer/datasets/iam_paragraphs_dataset.py text_recognizer/models/line_detector_model.py \
  text_recognizer/networks/fcn.py; do
  [[ -f $required ]] || { echo "$0: $required is missing: the line detector is not written yet" >&2; exit 1; }
done
python training/run_experiment.py --save "$@" \
  '{"dataset": "IamParagraphsDataset", "model": "LineDetectorModel", "network": "fcn", "train_args": {"batch_size": 16, "epochs": 32}}'
