#!/usr/bin/env bash
# Runs every linter (ruff, mypy, shellcheck) and fails if any of them finds a problem.
set -euo pipefail
cd "$(dirname "$0")/.."
failed=()
# Each linter runs even when an earlier one failed, so that one pass reports everything.
echo "== ruff"; ruff check . || failed+=(ruff)
echo "== mypy"; mypy text_recognizer training api evaluation || failed+=(mypy)
echo "== shellcheck"; shellcheck tasks/*.sh || failed+=(shellcheck)
if ((${#failed[@]})); then
  echo "$0: failed: ${failed[*]}" >&2
  exit 1
fi
