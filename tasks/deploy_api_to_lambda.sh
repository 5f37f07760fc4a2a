#!/usr/bin/env bash
# Deploys the web API to AWS Lambda behind an HTTP API with the Serverless Framework (api/serverless.yml), which
# builds api/Dockerfile.lambda and pushes it to ECR. Needs docker and AWS credentials; extra arguments go to
# `serverless deploy` (e.g. --stage prod --region eu-west-1).
set -euo pipefail
cd "$(dirname "$0")/../api"
command -v serverless >/dev/null || { echo "$0: the Serverless Framework is not installed (npm install -g serverless)" >&2; exit 1; }
command -v docker >/dev/null || { echo "$0: docker is not installed" >&2; exit 1; }
# The image installs from the wheelhouse only (tasks/make_wheelhouse.sh), made first.
../tasks/make_wheelhouse.sh
serverless deploy --verbose "$@"
