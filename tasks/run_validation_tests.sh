#!/usr/bin/env bash
# Evaluates the shipped models on their validation data and fails if one falls short of its target.
set -euo pipefail
cd "$(dirname "$0")/.."
shopt -s nullglob
evaluations=(evaluation/evaluate_*.py)
((${#evaluations[@]})) || { echo "$0: no evaluation/evaluate_*.py to run" >&2; exit 1; }
python -m pytest -s "${evaluations[@]}" "$@"
