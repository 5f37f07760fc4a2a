#!/usr/bin/env bash
# Runs the prediction system's tests: its predictors on sample images, and the package's unit tests.
set -euo pipefail
cd "$(dirname "$0")/.."
python -m pytest -s text_recognizer/tests "$@"
