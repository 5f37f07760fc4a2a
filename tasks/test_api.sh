#!/usr/bin/env bash
# Runs the web API's tests: predictions and bad input through the app, URL fetching, the Lambda handler, the
# deployment files and the page in headless Chromium (skipped when chromium is not installed).
set -euo pipefail
cd "$(dirname "$0")/.."
python -m pytest -s api/tests "$@"
