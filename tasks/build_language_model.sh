#!/usr/bin/env bash
# Fits and ships the character 6-gram language model of the Brown corpus (about 20 s) that the IAM line predictor's
# beam search weighs its readings with. Needs the corpus: NLTK_DATA pointing at a folder with corpora/brown.zip.
set -euo pipefail
cd "$(dirname "$0")/.."
python training/build_language_model.py --order 6 "$@"
