#!/usr/bin/env bash
# Builds the web API's serving image, text_recognizer_api: gunicorn on the shipped ONNX artifacts (api/Dockerfile).
# Run it with: docker run --rm -p 8000:8000 text_recognizer_api
# Extra arguments go to docker build (e.g. --build-arg BASE_IMAGE=...); tasks/test_api_docker.sh also runs it.
set -euo pipefail
cd "$(dirname "$0")/.."
command -v docker >/dev/null || { echo "$0: docker is not installed" >&2; exit 1; }
# The image installs from the wheelhouse only, so the build needs no index.
tasks/make_wheelhouse.sh
# The build context is the repository root (trimmed by .dockerignore), so the image can take the package and artifacts.
docker build --tag text_recognizer_api --file api/Dockerfile "$@" .
