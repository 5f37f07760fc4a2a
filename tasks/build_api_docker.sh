#!/usr/bin/env bash
# Builds the web API's serving image, text_recognizer_api: gunicorn on the shipped weights (see api/Dockerfile).
# Run it with: docker run --rm -p 8000:8000 text_recognizer_api
set -euo pipefail
cd "$(dirname "$0")/.."
command -v docker >/dev/null || { echo "$0: docker is not installed" >&2; exit 1; }
# The build context is the repository root (trimmed by .dockerignore), so the image can take the package and weights.
docker build --tag text_recognizer_api --file api/Dockerfile "$@" .
