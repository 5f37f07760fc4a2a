#!/usr/bin/env bash
# Exports the shipped training weights (text_recognizer/weights/*.weights.h5) as the ONNX artifacts that the
# predictors, the API and the CLI load (text_recognizer/artifacts/<name>/); names given export only those.
set -euo pipefail
cd "$(dirname "$0")/.."
python training/export_models.py "$@"
