"""Load test of the served API: starts gunicorn on 127.0.0.1, sends a bounded number of requests at each
concurrency level, prints latency percentiles, throughput and errors per level, then stops the server.

    python api/load_test.py                                   # line mode, a support line, 200 requests at 1, 8, 64
    python api/load_test.py --mode character --levels 1 8 --requests 100
    python api/load_test.py --mode paragraph --levels 1 8 --requests 50
    python api/load_test.py --worker-class gthread --threads 4      # the thread-per-connection worker, to compare

Each request is a POST /v1/predict with the image as a JSON data URL, on a new connection. A level stops sending
after `--max-seconds`; requests not sent then are reported as skipped.
"""

import argparse
import base64
import http.client
import json
import socket
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np
from PIL import Image

from text_recognizer.predictors.line import best_shipped_dataset

ROOT = Path(__file__).resolve().parents[1]
SUPPORT_DIRNAME = ROOT / "text_recognizer" / "tests" / "support"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--mode", default="line", choices=["line", "paragraph", "character"])
    parser.add_argument("--image", type=Path, help="image to send (default: a support image the mode's model reads)")
    parser.add_argument("--requests", type=int, default=200, help="requests per concurrency level")
    parser.add_argument("--levels", type=int, nargs="+", default=[1, 8, 64], help="concurrency levels")
    parser.add_argument("--max-seconds", type=float, default=60, help="wall-clock cap per level")
    parser.add_argument("--worker-class", default="gevent", help="gunicorn worker class (the Dockerfile's: gevent)")
    parser.add_argument("--threads", type=int, default=4, help="gunicorn threads of a gthread worker")
    parser.add_argument("--workers", type=int, default=2, help="gunicorn worker processes (the Dockerfile's setting)")
    args = parser.parse_args()

    image_path = args.image or _support_image(args.mode)
    encoded = base64.b64encode(image_path.read_bytes()).decode()
    body = json.dumps({"mode": args.mode, "image": f"data:image/png;base64,{encoded}"})
    with Image.open(image_path) as image:
        size = f"{image.width}x{image.height}"
    port = free_port()
    command = [sys.executable, "-m", "gunicorn", "--bind", f"127.0.0.1:{port}", "--timeout", "120"]
    command += ["--worker-class", args.worker_class, "--workers", str(args.workers), "--no-control-socket"]
    # The Dockerfile's header deadline; --threads means something only to gthread (gevent runs greenlets).
    command += ["--keep-alive", "5"] + (["--threads", str(args.threads)] if args.worker_class == "gthread" else [])
    command += ["api.app:create_app()"]
    server = subprocess.Popen(command, cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        wait_until_up(port, server)
        for _ in range(5 * args.workers):  # each worker's first calls allocate its buffers: not what is measured
            status, _ = _post(port, body)
            if status != 200:
                print(f"error: warm-up request answered {status}", file=sys.stderr)
                return 1
        print(f"mode={args.mode} image={image_path.relative_to(ROOT)} ({size}, {len(body)} bytes of JSON)")
        per_worker = f"{args.threads} threads" if args.worker_class == "gthread" else args.worker_class
        print(f"server: gunicorn, {args.workers} worker(s) x {per_worker}; {args.requests} requests per level")
        print(f"{'concurrency':>11} {'sent':>5} {'skipped':>7} {'errors':>6} {'p50 ms':>8} {'p99 ms':>8} {'req/s':>7}")
        for level in args.levels:
            print(_run_level(port, body, level, args.requests, args.max_seconds), flush=True)
        print("worker RSS MiB: " + " ".join(f"{rss:.0f}" for rss in _worker_rss_mib(server.pid)))
    finally:
        server.terminate()
        server.wait(timeout=30)
    return 0


def _worker_rss_mib(master: int) -> list[float]:
    """Resident memory of each gunicorn worker (the master's child processes), from /proc."""
    children = Path(f"/proc/{master}/task/{master}/children").read_text().split()
    sizes = []
    for child in children:
        status = Path(f"/proc/{child}/status").read_text()
        sizes.append(int(next(line for line in status.splitlines() if line.startswith("VmRSS:")).split()[1]) / 1024)
    return sizes


def _support_image(mode: str) -> Path:
    """A test image of the data the mode's shipped model was trained on (IAM lines when that model is shipped)."""
    if mode == "character":
        return SUPPORT_DIRNAME / "emnist" / "upper_A.png"
    folder = "iam_paragraphs" if mode == "paragraph" else best_shipped_dataset()
    return min((SUPPORT_DIRNAME / folder).glob("*.png"))


def _run_level(port: int, body: str, concurrency: int, requests: int, max_seconds: float) -> str:
    deadline = time.monotonic() + max_seconds

    def one(request_number: int) -> tuple[int, float] | None:
        if time.monotonic() > deadline:
            return None
        start = time.perf_counter()
        status, _ = _post(port, body)
        return status, (time.perf_counter() - start) * 1000

    start = time.perf_counter()
    with ThreadPoolExecutor(concurrency) as pool:
        results = [result for result in pool.map(one, range(requests)) if result is not None]
    elapsed = time.perf_counter() - start
    latencies = np.array([latency for _, latency in results])
    errors = sum(status != 200 for status, _ in results)
    p50, p99 = np.percentile(latencies, [50, 99]) if len(latencies) else (float("nan"), float("nan"))
    skipped = requests - len(results)
    throughput = len(results) / elapsed
    return f"{concurrency:>11} {len(results):>5} {skipped:>7} {errors:>6} {p50:>8.1f} {p99:>8.1f} {throughput:>7.1f}"


def _post(port: int, body: str) -> tuple[int, bytes]:
    return request(port, "POST", "/v1/predict", body.encode(), "application/json")


def request(
    port: int, method: str, path: str, body: bytes | None = None, content_type: str = "image/png"
) -> tuple[int, bytes]:
    """(status, body) of one request to 127.0.0.1:`port` on a new connection; 0 when the connection failed."""
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=120)
    try:
        connection.request(method, path, body, {"Content-Type": content_type} if body is not None else {})
        response = connection.getresponse()
        return response.status, response.read()
    except OSError:
        return 0, b""
    finally:
        connection.close()


def wait_until_up(port: int, server: subprocess.Popen, timeout: float = 180) -> None:
    """Return once `server` accepts connections on `port`; exit if it dies or takes longer than `timeout`."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if server.poll() is not None:
            raise SystemExit(f"gunicorn exited with status {server.returncode}")
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=1):
                return
        except OSError:
            time.sleep(0.5)
    raise SystemExit(f"gunicorn did not start within {timeout} s")


def free_port() -> int:
    """A TCP port of 127.0.0.1 that nothing listens on now."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


if __name__ == "__main__":
    sys.exit(main())
