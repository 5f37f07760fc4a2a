#!/usr/bin/env bash
# Builds the serving image (api/Dockerfile) without network and runs it for real: waits for GET /, sends the
# README's examples (a line as a JSON data URL, a paragraph and a character as raw PNG bodies), checks that each
# answers 200 with a non-empty prediction and that the line reads close to its text, and that no TensorFlow is
# installed; prints the image's size and its cold start (docker run to the first prediction).
# Needs a running docker daemon. BASE_IMAGE: the base to build on (default: Debian bookworm's python3, made here
# with mmdebstrap when absent, as no container registry need be reachable). REMOVE_IMAGE=1 removes the image after.
set -euo pipefail
cd "$(dirname "$0")/.."

default_base=text-recognizer-base:bookworm
base="${BASE_IMAGE:-$default_base}"
image=text_recognizer_api:test
support=text_recognizer/tests/support
line="$support/iam_lines/a01-014-00.png"
max_line_cer=0.3 # the bound text_recognizer/tests/test_line_predictor.py sets on each IAM support line

container=
tmp="$(mktemp -d)"
cleanup() {
  local status=$?
  if [[ -n $container ]]; then
    ((status == 0)) || docker logs --tail 40 "$container" >&2 || true
    docker rm --force "$container" >/dev/null || true
  fi
  if [[ ${REMOVE_IMAGE:-} == 1 ]]; then
    docker rmi "$image" >/dev/null 2>&1 || true
    # The classic builder keeps the install stage's images (the wheels among them), untagged; only those go.
    docker image prune --force --filter label=text-recognizer-api-stage=install >/dev/null || true
  fi
  rm -rf "$tmp"
}
trap cleanup EXIT

if [[ $base == "$default_base" ]] && ! docker image inspect "$base" >/dev/null 2>&1; then
  echo "== base image $base (mmdebstrap)"
  # Merged /usr set up by mmdebstrap's hook rather than the usrmerge package, which would bring perl; no docs,
  # man pages or translations. The base is then about 120 MB, Python 3.11 included.
  if ! mmdebstrap --variant=minbase --include=python3,python3-venv,ca-certificates \
    --hook-dir=/usr/share/mmdebstrap/hooks/merged-usr \
    --dpkgopt='path-exclude=/usr/share/doc/*' --dpkgopt='path-exclude=/usr/share/man/*' \
    --dpkgopt='path-exclude=/usr/share/locale/*' --dpkgopt='path-exclude=/usr/share/info/*' \
    bookworm - 2>"$tmp/mmdebstrap.log" | docker import - "$base" >/dev/null; then
    cat "$tmp/mmdebstrap.log" >&2
    exit 1
  fi
fi

echo "== wheelhouse"
tasks/make_wheelhouse.sh
echo "== build $image on $base"
build_start=$SECONDS
# No network: everything installed comes from the wheelhouse.
if ! docker build --network none --build-arg BASE_IMAGE="$base" --file api/Dockerfile --tag "$image" . \
  >"$tmp/build.log" 2>&1; then
  cat "$tmp/build.log" >&2
  exit 1
fi
echo "built in $((SECONDS - build_start)) s"

echo "== no TensorFlow in the image"
# No cache: the unprivileged user has no home to keep one in.
docker run --rm --network none -e PIP_NO_CACHE_DIR=1 "$image" pip list --format=freeze >"$tmp/packages.txt"
if grep -iE '^(tensorflow|tf-keras|keras|tf2onnx|tensorboard)' "$tmp/packages.txt"; then
  echo "$0: the serving image has training packages (above)" >&2
  exit 1
fi
echo "$(wc -l <"$tmp/packages.txt") packages, none of TensorFlow's"

port="$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')"
url="http://127.0.0.1:$port"
echo "== run on $url"
run_start="$(date +%s.%N)"
# The host's network (the daemon may have no bridge), on loopback only; PORT keeps the health check on that port.
container="$(docker run --detach --network host -e PORT="$port" -e GUNICORN_CMD_ARGS="--bind=127.0.0.1:$port" "$image")"
until curl -sf "$url/" >"$tmp/health.json"; do
  if [[ "$(docker inspect -f '{{.State.Running}}' "$container")" != true ]]; then
    echo "$0: the container exited" >&2
    exit 1
  fi
  if (($(date +%s) - ${run_start%.*} > 180)); then
    echo "$0: $url/ did not answer within 180 s" >&2
    exit 1
  fi
  sleep 0.2
done
cat "$tmp/health.json"

# One README example: prints the answer, fails unless it is 200 with a non-empty "pred".
predict() {
  local name="$1"
  shift
  local status
  status="$(curl -s -o "$tmp/$name.json" -w '%{http_code}' "$@")"
  echo "$name: $status $(cat "$tmp/$name.json")"
  if [[ $status != 200 ]] || ! python3 -c 'import json, sys; assert json.load(sys.stdin)["pred"].strip()' \
    <"$tmp/$name.json" 2>/dev/null; then
    echo "$0: $name: no prediction" >&2
    return 1
  fi
}

echo "== predictions"
predict line "$url/v1/predict" -H 'Content-Type: application/json' \
  -d "{\"image\": \"data:image/png;base64,$(base64 -w0 "$line")\"}"
cold_start="$(python3 -c "import sys, time; print(f'{time.time() - float(sys.argv[1]):.1f}')" "$run_start")"
predict paragraph "$url/v1/predict?mode=paragraph" -H 'Content-Type: image/png' \
  --data-binary "@$support/iam_paragraphs/a01-014.png"
predict character "$url/v1/predict?mode=character" -H 'Content-Type: image/png' \
  --data-binary "@$support/emnist/upper_A.png"

# The line against its transcription: the character error rate (edit distance over the text's length).
python3 - "$tmp/line.json" "$support/iam_lines/texts.json" "$(basename "$line")" "$max_line_cer" <<'EOF'
import json, sys
pred = json.load(open(sys.argv[1]))["pred"]
text = json.load(open(sys.argv[2]))[sys.argv[3]]
row = list(range(len(text) + 1))
for i, a in enumerate(pred, 1):
    row, prev = [i], row
    for j, b in enumerate(text, 1):
        row.append(min(prev[j] + 1, row[j - 1] + 1, prev[j - 1] + (a != b)))
cer = row[-1] / len(text)
print(f"line: {pred!r} for {text!r}: CER {cer:.3f}")
sys.exit(0 if cer <= float(sys.argv[4]) else f"line CER {cer:.3f} > {sys.argv[4]}")
EOF

size_mb=$(($(docker image inspect -f '{{.Size}}' "$image") / 1000000))
echo "== image size: $size_mb MB; cold start: $cold_start s (docker run to the first prediction)"
