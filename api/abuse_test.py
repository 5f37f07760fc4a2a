"""Abuse test of the served API: starts the server as the README serves it (api/Dockerfile's gunicorn command, 2
workers, on a free port of 127.0.0.1), abuses it a bounded number of times, prints each figure and exits 1 if a
bound is broken. All traffic goes to 127.0.0.1; it takes about a minute.

    python api/abuse_test.py

1. 64 slow clients (half send headers without their final blank line, half a body shorter than its Content-Length,
   a byte a second) are held while `GET /` and line predictions are timed; then each must be dropped by the server
   within its read timeout (gunicorn's --keep-alive for headers, the app's BODY_TIMEOUT for bodies).
2. An image_url served by a local server that trickles its headers ends within IMAGE_URL_TIMEOUT.
3. Elongated images (40000x1, 1x40000) in every mode are answered in time, the workers' memory bounded.
4. Mutated images of every accepted format (seeded) never get a 5xx, and no worker dies.
"""

import io
import json
import os
import random
import socket
import subprocess
import sys
import tempfile
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from urllib.parse import quote

import numpy as np
from PIL import Image

from api.app import DEFAULT_CONFIG
from api.load_test import free_port, request, wait_until_up
from api.tests.helpers import mutated

ROOT = Path(__file__).resolve().parents[1]

LINE_IMAGE = ROOT / "text_recognizer" / "tests" / "support" / "iam_lines" / "a01-014-00.png"
SLOW_CLIENTS = 64
HOLD_SECONDS = 8  # how long health and line predictions are timed while the slow clients are held
TRICKLE_SECONDS = 1.0  # a slow client sends one more byte (or header line) this often
HEALTH_P99_S = 0.5
LINE_P50_FACTOR = 2.0  # loaded line p50 at most this times the unloaded one
ELONGATED_S = 20.0
MAX_RSS_MIB = 600
FUZZ_CASES = 300
FUZZ_SEED = 20261202
FORMATS = ("PNG", "JPEG", "PPM", "BMP", "GIF", "TIFF", "WEBP")
MARGIN_S = 3.0  # slack on the server's timeouts, for a loaded machine


def main() -> int:
    failures: list[str] = []

    def check(ok: bool, figure: str) -> None:
        print(f"  {'ok  ' if ok else 'FAIL'} {figure}", flush=True)
        if not ok:
            failures.append(figure)

    command = _served_command()
    header_timeout = float(command[command.index("--keep-alive") + 1])
    body_timeout = float(DEFAULT_CONFIG["BODY_TIMEOUT"])
    fetch_timeout = float(DEFAULT_CONFIG["IMAGE_URL_TIMEOUT"])
    port = free_port()
    command[3:3] = ["--bind", f"127.0.0.1:{port}", "--workers", "2"]  # after: python -m gunicorn
    env = {**os.environ, "TEXT_RECOGNIZER_API_ALLOW_PRIVATE_URLS": "1"}  # image_url may reach the trickling server
    log = tempfile.TemporaryFile()
    print("server: " + " ".join(command[2:]), flush=True)
    server = subprocess.Popen(command, cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT)
    try:
        wait_until_up(port, server)
        modes = json.loads(request(port, "GET", "/")[1])["modes"]
        workers = _workers(server.pid)
        line = LINE_IMAGE.read_bytes()
        for _ in range(10):  # each worker's first predictions allocate its buffers: not what is measured
            request(port, "POST", "/v1/predict?mode=line", line)

        print("unloaded", flush=True)
        health0 = [_timed(port, "GET", "/")[1] for _ in range(30)]
        line0 = [_timed(port, "POST", "/v1/predict?mode=line", line)[1] for _ in range(30)]
        print(f"  GET / p50 {_ms(health0, 50)} ms, line p50 {_ms(line0, 50)} ms; RSS MiB {_rss_mib(server.pid)}")

        print(f"{SLOW_CLIENTS} slow clients (headers {header_timeout:g} s, body {body_timeout:g} s)", flush=True)
        hold = threading.Event()
        hold.set()
        cap = header_timeout + body_timeout + 2 * MARGIN_S  # a connection still open then is reported as held
        clients = [SlowClient(port, kind, hold, cap) for kind in ("headers", "body") for _ in range(SLOW_CLIENTS // 2)]
        for client in clients:
            client.start()
        time.sleep(1)  # all connected and sending
        health, lines, statuses = [], [], []
        end = time.monotonic() + HOLD_SECONDS
        while time.monotonic() < end:
            status, seconds = _timed(port, "GET", "/")
            health.append(seconds)
            statuses.append(status)
            status, seconds = _timed(port, "POST", "/v1/predict?mode=line", line)
            lines.append(seconds)
            statuses.append(status)
            time.sleep(0.1)
        hold.clear()  # no reconnecting: each connection now runs until the server drops it
        for client in clients:
            client.join()
        print(f"  {len(health)} GET / and {len(lines)} line predictions while held; statuses {sorted(set(statuses))}")
        check(set(statuses) == {200}, f"every timed request answered 200: {sorted(set(statuses))}")
        check(_p(health, 99) <= HEALTH_P99_S, f"GET / p99 {_ms(health, 99)} ms <= {HEALTH_P99_S * 1000:.0f} ms")
        bound = LINE_P50_FACTOR * _p(line0, 50)
        check(_p(lines, 50) <= bound, f"line p50 {_ms(lines, 50)} ms <= {LINE_P50_FACTOR:g} x {_ms(line0, 50)} ms")
        for kind, timeout in (("headers", header_timeout), ("body", body_timeout)):
            ended = [result for client in clients if client.kind == kind for result in client.results]
            longest = max(seconds for seconds, _ in ended)
            how = sorted({end for _, end in ended})
            check(
                "held" not in how and longest <= timeout + MARGIN_S,
                f"{len(ended)} slow-{kind} connections dropped by the server: longest {longest:.1f} s "
                f"<= {timeout:g} + {MARGIN_S:g} s; ended by {how}",
            )

        print("image_url that trickles its headers", flush=True)
        with TricklingServer() as trickler:
            url = f"http://127.0.0.1:{trickler.port}/line.png"
            result: list[tuple[int, float]] = []
            fetch = threading.Thread(
                target=lambda: result.append(_timed(port, "GET", f"/v1/predict?image_url={quote(url)}"))
            )
            fetch.start()
            time.sleep(0.5)
            health = []
            while fetch.is_alive() and len(health) < 100:
                health.append(_timed(port, "GET", "/")[1])
                time.sleep(0.1)
            fetch.join()
        [(status, seconds)] = result
        check(
            400 <= status < 500 and seconds <= fetch_timeout + MARGIN_S,
            f"answered {status} in {seconds:.1f} s <= {fetch_timeout:g} + {MARGIN_S:g} s",
        )
        check(_p(health, 99) <= HEALTH_P99_S, f"GET / during the fetch: p99 {_ms(health, 99)} ms")

        print("elongated images", flush=True)
        sampler = RssSampler(server.pid)
        sampler.start()
        for width, height in ((40_000, 1), (1, 40_000)):
            image = _png(Image.new("L", (width, height), 255))
            for mode in modes:
                status, seconds = _timed(port, "POST", f"/v1/predict?mode={mode}", image)
                check(
                    status < 500 and status != 0 and seconds <= ELONGATED_S,
                    f"{width}x{height} {mode}: {status} in {seconds:.2f} s (<= {ELONGATED_S:g} s)",
                )

        print(f"{FUZZ_CASES} mutated images ({', '.join(FORMATS)})", flush=True)
        cases = _fuzz_cases(modes)
        with ThreadPoolExecutor(4) as pool:
            fuzz = list(pool.map(lambda case: _timed(port, "POST", case[0], case[1]), cases))
        counts = {status: [status for status, _ in fuzz].count(status) for status in sorted({s for s, _ in fuzz})}
        bad = [
            f"#{i} {FORMATS[i % len(FORMATS)]} {cases[i][0]}"
            for i, (status, _) in enumerate(fuzz)
            if not 0 < status < 500
        ]
        check(not bad, f"statuses {counts}: no 5xx, no dropped connection {bad}")
        print(f"  slowest {max(seconds for _, seconds in fuzz):.2f} s")
        sampler.stop()
        check(
            sampler.peak < MAX_RSS_MIB,
            f"peak worker RSS {sampler.peak:.0f} MiB < {MAX_RSS_MIB} MiB (elongated and fuzz)",
        )

        print("afterwards", flush=True)
        status, seconds = _timed(port, "GET", "/")
        check(status == 200, f"GET / answers {status} in {seconds * 1000:.1f} ms")
        check(_workers(server.pid) == workers, f"no worker restarted (workers {sorted(workers)})")
        print(f"  RSS MiB {_rss_mib(server.pid)}")
    finally:
        server.terminate()
        server.wait(timeout=30)
    log.seek(0)
    unhandled = log.read().decode(errors="replace").count('"unhandled_error"')
    check(unhandled == 0, f"{unhandled} unhandled errors in the server's log")
    print(f"{len(failures)} bound(s) broken" if failures else "every bound held")
    return 1 if failures else 0


class SlowClient(threading.Thread):
    """Sends an incomplete request a byte (or header line) at a time, reconnecting while `hold` is set; `results`
    has (seconds, how it ended) for each connection: "closed" or the status of an answer by the server, or "held"
    when it was still open after `cap` seconds."""

    def __init__(self, port: int, kind: str, hold: threading.Event, cap: float):
        super().__init__(daemon=True)
        self.port, self.kind, self.hold, self.cap = port, kind, hold, cap
        self.results: list[tuple[float, str]] = []

    def run(self) -> None:
        while True:
            self.results.append(self._connection())
            if not self.hold.is_set():
                return

    def _connection(self) -> tuple[float, str]:
        start = time.monotonic()
        if self.kind == "headers":  # no blank line after the headers: the request never ends
            first, more = b"GET / HTTP/1.1\r\nHost: 127.0.0.1\r\n", b"X-Slow: 1\r\n"
        else:  # 64 of the 100000 bytes declared
            first = b"POST /v1/predict HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: image/png\r\n"
            first += b"Content-Length: 100000\r\n\r\n" + b"\x89PNG" * 16
            more = b"\0"
        with socket.create_connection(("127.0.0.1", self.port), timeout=TRICKLE_SECONDS) as sock:
            try:
                sock.sendall(first)
                while time.monotonic() - start < self.cap:
                    try:
                        answer = sock.recv(4096)  # waits a trickle's interval for the server to answer or close
                    except TimeoutError:
                        sock.sendall(more)
                        continue
                    how = answer.split(b" ", 2)[1].decode(errors="replace") if answer else "closed"
                    return time.monotonic() - start, how
            except OSError:  # reset or broken pipe: the server closed it
                return time.monotonic() - start, "closed"
        return time.monotonic() - start, "held"


class TricklingServer:
    """A local HTTP server that answers every request with a status line, then one header line every half second,
    never ending its headers (for at most 30 s)."""

    def __init__(self) -> None:
        self.listener = socket.create_server(("127.0.0.1", 0))
        self.listener.settimeout(0.2)
        self.port = self.listener.getsockname()[1]
        self.done = threading.Event()
        self.thread = threading.Thread(target=self._serve, daemon=True)

    def __enter__(self) -> "TricklingServer":
        self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.done.set()
        self.thread.join()
        self.listener.close()

    def _serve(self) -> None:
        while not self.done.is_set():
            try:
                connection, _ = self.listener.accept()
            except TimeoutError:
                continue
            threading.Thread(target=self._trickle, args=(connection,), daemon=True).start()

    def _trickle(self, connection: socket.socket) -> None:
        with connection:
            try:
                connection.recv(65536)
                connection.sendall(b"HTTP/1.1 200 OK\r\n")
                end = time.monotonic() + 30
                while not self.done.wait(0.5) and time.monotonic() < end:
                    connection.sendall(b"X-Slow: 1\r\n")
            except OSError:  # the app gave up and closed: what is tested
                pass


class RssSampler(threading.Thread):
    """The largest resident memory of any worker, sampled every 0.1 s."""

    def __init__(self, master: int):
        super().__init__(daemon=True)
        self.master, self.peak, self.done = master, 0.0, threading.Event()

    def run(self) -> None:
        while True:
            self.peak = max([self.peak, *_rss_mib(self.master)])
            if self.done.wait(0.05):
                return

    def stop(self) -> None:
        self.done.set()
        self.join()
        self.peak = max([self.peak, *_rss_mib(self.master)])


def _served_command() -> list[str]:
    """api/Dockerfile's CMD (the README's command), run with this interpreter: [python, -m, gunicorn, ...]."""
    [line] = [line for line in (ROOT / "api" / "Dockerfile").read_text().splitlines() if line.startswith("CMD ")]
    command = json.loads(line.removeprefix("CMD "))
    assert command[0] == "gunicorn", command
    return [sys.executable, "-m", *command]


def _fuzz_cases(modes: list[str]) -> list[tuple[str, bytes]]:
    """(path, body) of `FUZZ_CASES` seeded mutations of the line image in each of `FORMATS`, the modes in turn."""
    image = Image.open(LINE_IMAGE).convert("RGB")
    encodings = [_png(image, format) for format in FORMATS]
    rng = random.Random(FUZZ_SEED)
    cases = []
    for i in range(FUZZ_CASES):
        cases.append((f"/v1/predict?mode={modes[i % len(modes)]}", mutated(encodings[i % len(FORMATS)], rng)))
    return cases


def _png(image: Image.Image, format: str = "PNG") -> bytes:
    buffer = io.BytesIO()
    image.save(buffer, format=format)
    return buffer.getvalue()


def _timed(port: int, method: str, path: str, body: bytes | None = None) -> tuple[int, float]:
    start = time.perf_counter()
    status, _ = request(port, method, path, body)
    return status, time.perf_counter() - start


def _p(seconds: list[float], percentile: float) -> float:
    return float(np.percentile(seconds, percentile)) if seconds else float("inf")


def _ms(seconds: list[float], percentile: float) -> str:
    return f"{_p(seconds, percentile) * 1000:.1f}"


def _workers(master: int) -> set[int]:
    return {int(pid) for pid in Path(f"/proc/{master}/task/{master}/children").read_text().split()}


def _rss_mib(master: int) -> list[float]:
    sizes = []
    for pid in _workers(master):
        try:
            status = Path(f"/proc/{pid}/status").read_text()
        except FileNotFoundError:  # a worker that just exited
            continue
        sizes.append(int(next(line for line in status.splitlines() if line.startswith("VmRSS:")).split()[1]) / 1024)
    return [round(size) for size in sizes]


if __name__ == "__main__":
    sys.exit(main())
