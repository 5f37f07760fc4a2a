#!/usr/bin/env bash
# Prints one training command per sample experiment (training/experiments/sample.json). Run them side by side from
# the repo root, each on a GPU of its own that the GPU manager picks:
#   tasks/prepare_sample_experiments.sh | parallel -j 2
set -euo pipefail
cd "$(dirname "$0")/.."
python training/prepare_experiments.py training/experiments/sample.json
