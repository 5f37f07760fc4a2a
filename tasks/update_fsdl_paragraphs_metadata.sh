#!/usr/bin/env bash
# After a new FSDL handwriting export, records its SHA-256 in data/raw/fsdl_handwriting/metadata.toml, so that the
# data set accepts the new file (and the caches keyed on it are rebuilt). Arguments go to training/update_metadata.py:
#   tasks/update_fsdl_paragraphs_metadata.sh --file ~/Downloads/new_export.json   # copies it in, then hashes it
#   tasks/update_fsdl_paragraphs_metadata.sh                                      # the file already in place
set -euo pipefail
# Relative --file paths are from where this was called, not from the repository root it moves to.
args=()
for arg in "$@"; do
  case $arg in
    --file=/*) args+=("$arg") ;;
    --file=*) args+=("--file=$PWD/${arg#--file=}") ;;
    -* | /*) args+=("$arg") ;;
    *) args+=("$PWD/$arg") ;;
  esac
done
cd "$(dirname "$0")/.."
python training/update_metadata.py data/raw/fsdl_handwriting/metadata.toml "${args[@]}"
