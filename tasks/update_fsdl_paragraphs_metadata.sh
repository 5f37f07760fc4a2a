#!/usr/bin/env bash
# After a new FSDL handwriting export replaced data/raw/fsdl_handwriting/fsdl_handwriting.json, records its SHA-256
# in the metadata.toml beside it, so that the data set accepts the new file (and the caches keyed on it are rebuilt).
set -euo pipefail
cd "$(dirname "$0")/.."
[[ -f training/update_metadata.py ]] || { echo "$0: training/update_metadata.py is missing: it is not written yet" >&2; exit 1; }
python training/update_metadata.py data/raw/fsdl_handwriting/metadata.toml
