"""An in-process HTTP server on 127.0.0.1 for download tests: nothing leaves the machine.

A handler class answers the requests; the server runs in a thread for the duration of the `with` block:

    class Handler(QuietHandler):
        def do_GET(self) -> None: ...

    with serve_locally(Handler) as base_url:   # "http://127.0.0.1:<free port>"
        download_url(f"{base_url}/file.bin", ...)

`trickling_server` is a server too slow for any client: it sends its answer a byte at a time.
"""

import http.server
import socket
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager


class QuietHandler(http.server.BaseHTTPRequestHandler):
    """A request handler that does not log every request to stderr."""

    def log_message(self, *args: object) -> None:
        pass


@contextmanager
def serve_locally(handler: type[http.server.BaseHTTPRequestHandler]) -> Iterator[str]:
    """Serve `handler` from a thread (one thread a request) on a free port; yields the base URL."""
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()
        thread.join()


@contextmanager
def trickling_server(prompt: bytes, trickle: bytes, interval: float = 0.1) -> Iterator[str]:
    """A server on 127.0.0.1 that answers one connection with `prompt` at once, then `trickle` one byte every
    `interval` seconds (at most `len(trickle) * interval` seconds in all), then closes it; yields the base URL.

    So a client whose timeout bounds each read but not the exchange waits for the whole trickle.
    """
    listener = socket.create_server(("127.0.0.1", 0))
    listener.settimeout(10)  # a test that never connects does not hang the thread

    def answer() -> None:
        try:
            connection, _ = listener.accept()
        except OSError:
            return
        with connection:
            try:
                connection.recv(65536)  # the request
                connection.sendall(prompt)
                for byte in trickle:
                    time.sleep(interval)
                    connection.sendall(bytes([byte]))
            except OSError:
                pass  # the client gave up, as it should

    thread = threading.Thread(target=answer, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{listener.getsockname()[1]}"
    finally:
        listener.close()
        thread.join(timeout=len(trickle) * interval + 1)
