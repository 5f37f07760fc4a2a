#!/usr/bin/env bash
# Downloads what the API images install into wheelhouse/ (git-ignored), so that their builds reach no index:
# requirements.txt (serving: the Pipfile's [packages]) and requirements-lambda.txt (serving and [lambda]), pinned
# and hashed from Pipfile.lock, and the wheels of both for the images' Python, whatever the host's.
set -euo pipefail
cd "$(dirname "$0")/.."
out=wheelhouse
mkdir -p "$out"
python3 -m pipenv requirements --hash >"$out/requirements.txt"
python3 -m pipenv requirements --hash --categories "packages lambda" >"$out/requirements-lambda.txt"
# The images run CPython 3.11 on x86-64 with glibc 2.36 (Debian bookworm). pip takes only the platform tags it is
# given (manylinux2014 brings manylinux2010 and manylinux1 along), so each manylinux_2_x up to 2.36 is named.
platforms=(--platform manylinux2014_x86_64)
for minor in $(seq 17 36); do platforms+=(--platform "manylinux_2_${minor}_x86_64"); done
python3 -m pip download --quiet --disable-pip-version-check --only-binary=:all: --implementation cp \
  --python-version 3.11 --abi cp311 "${platforms[@]}" --dest "$out" --requirement "$out/requirements-lambda.txt"
